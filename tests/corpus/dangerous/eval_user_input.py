while True:
    line = input(">>> ")
    if line == "quit":
        break
    print(eval(line))
