import itertools

colors = ["red", "green", "blue"]
sizes = ["S", "M"]
for color, size in itertools.product(colors, sizes):
    print(color, size)
print(list(itertools.combinations(range(4), 2)))
print(list(itertools.accumulate([1, 2, 3, 4])))
