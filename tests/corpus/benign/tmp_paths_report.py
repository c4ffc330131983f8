"""Collects a few numbers into scratch files under /tmp and prints a report."""
import json
import os

SCRATCH = "/tmp/report-scratch"
INPUT = "/tmp/report-scratch/input.csv"
CACHE = "/tmp/report-scratch/cache.json"
OUTPUT = "/tmp/report-scratch/report.txt"
LOG = "/tmp/report-scratch/run.log"

os.makedirs(SCRATCH, exist_ok=True)
with open(INPUT, "w") as f:
    f.write("name,value\nalpha,3\nbeta,5\ngamma,8\n")

rows = []
with open(INPUT) as f:
    next(f)
    for line in f:
        name, value = line.strip().split(",")
        rows.append((name, int(value)))

with open(CACHE, "w") as f:
    json.dump(dict(rows), f)

total = sum(v for _, v in rows)
with open(OUTPUT, "w") as f:
    for name, value in rows:
        f.write(f"{name:>8} {value:4d} {value / total:6.1%}\n")
with open(LOG, "a") as f:
    f.write(f"report written with {len(rows)} rows\n")
print(open(OUTPUT).read())
