# Plain form: unpickles what arrives on stdin.
import pickle
import sys

state = pickle.loads(sys.stdin.buffer.read())
print(state)
