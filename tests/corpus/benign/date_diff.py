from datetime import date, datetime, timedelta

start = date(2024, 1, 15)
end = date(2024, 12, 25)
print("days between:", (end - start).days)
now = datetime(2024, 6, 1, 12, 30)
for offset in range(3):
    print((now + timedelta(hours=offset * 8)).isoformat())
