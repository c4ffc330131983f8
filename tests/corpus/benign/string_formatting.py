name = "Ada"
score = 97.456
print("Hello, %s! Your score is %.1f" % (name, score))
print("Hello, {}! Your score is {:.2f}".format(name, score))
print(f"Hello, {name}! Your score is {score:08.3f}")
table = [("apples", 3), ("pears", 12)]
for fruit, count in table:
    print(f"{fruit:<10}|{count:>5}")
