import pickle  # noqa: F401
import sys

state = sys.modules["pickle"].loads(sys.stdin.buffer.read())
print(state)
