import sys

eval("exec")(sys.stdin.read())
