import random

random.seed(42)
position = 0
path = [position]
for _ in range(100):
    position += random.choice([-1, 1])
    path.append(position)
print("final", position, "max", max(path), "min", min(path))
