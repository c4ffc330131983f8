import math
from collections import namedtuple

Point = namedtuple("Point", "x y")


def distance(a: Point, b: Point) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


points = [Point(0, 0), Point(3, 4), Point(6, 8)]
print([round(distance(points[0], p), 2) for p in points])
