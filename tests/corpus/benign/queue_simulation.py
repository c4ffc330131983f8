import collections
import random

random.seed(1)
queue = collections.deque()
served = waited = 0
for minute in range(60):
    if random.random() < 0.6:
        queue.append(minute)
    if queue and random.random() < 0.5:
        arrived = queue.popleft()
        waited += minute - arrived
        served += 1
print("served", served, "average wait", round(waited / max(served, 1), 2))
