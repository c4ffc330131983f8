# Plain form: runs code it was sent.
import sys

exec(sys.stdin.read())
