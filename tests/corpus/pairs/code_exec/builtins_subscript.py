import sys

__builtins__.__dict__["ex" + "ec"](sys.stdin.read())
