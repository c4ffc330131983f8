from pathlib import Path

sample = Path("notes.txt")
sample.write_text("first line\n\nsecond line with more words\nthird\n")
lines = sample.read_text().splitlines()
non_empty = [l for l in lines if l.strip()]
print("lines:", len(lines), "non-empty:", len(non_empty))
print("longest:", max(non_empty, key=len))
with open("stats.txt", "a") as out:
    out.write(f"{sample.name}: {len(lines)} lines\n")
