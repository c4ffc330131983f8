import statistics

readings = {"mon": 21.5, "tue": 23.1, "wed": 19.8, "thu": 22.4, "fri": 24.0}
values = list(readings.values())
print("mean", round(statistics.mean(values), 2))
print("stdev", round(statistics.stdev(values), 2))
warmest = max(readings, key=readings.get)
print("warmest day", warmest)
