import csv
import io
import statistics

DATA = """name,department,salary
Alice,Engineering,120000
Bob,Engineering,95000
Carol,Sales,70000
Dan,Sales,65000
"""

rows = list(csv.DictReader(io.StringIO(DATA)))
by_department = {}
for row in rows:
    by_department.setdefault(row["department"], []).append(int(row["salary"]))

for department, salaries in sorted(by_department.items()):
    print(department, statistics.mean(salaries), statistics.median(salaries))
