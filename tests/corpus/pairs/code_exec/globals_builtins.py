import sys

globals()["__builtins__"].exec(sys.stdin.read())
