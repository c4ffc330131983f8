import random
from collections import Counter

random.seed(7)
rolls = [random.randint(1, 6) + random.randint(1, 6) for _ in range(500)]
counts = Counter(rolls)
for total in range(2, 13):
    print(f"{total:2d} {'*' * (counts[total] // 4)}")
