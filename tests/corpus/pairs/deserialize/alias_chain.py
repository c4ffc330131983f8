import pickle as p
import sys

reader = p.loads
load_state = reader
state = load_state(sys.stdin.buffer.read())
print(state)
