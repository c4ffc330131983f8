name = input()
m = __import__(name)
