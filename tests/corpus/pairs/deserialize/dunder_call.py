import pickle
import sys

state = pickle.loads.__call__(sys.stdin.buffer.read())
print(state)
