import csv
from datetime import date

rows = [
    {"day": date(2024, 3, d).isoformat(), "visits": 100 + d * 7}
    for d in range(1, 8)
]
with open("weekly_report.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=["day", "visits"])
    writer.writeheader()
    writer.writerows(rows)
print("wrote", len(rows), "rows")
