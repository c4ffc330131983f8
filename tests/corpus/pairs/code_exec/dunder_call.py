import sys

exec.__call__(sys.stdin.read())
