import re

LOG = """2024-05-01 10:00:01 INFO user=alice action=login
2024-05-01 10:05:22 ERROR user=bob action=upload size=20MB
2024-05-01 10:07:45 INFO user=alice action=logout
"""
pattern = re.compile(r"(?P<date>\S+) (?P<time>\S+) (?P<level>\w+) user=(?P<user>\w+) action=(?P<action>\w+)")
for match in pattern.finditer(LOG):
    print(match.group("user"), match.group("action"), match.group("level"))
