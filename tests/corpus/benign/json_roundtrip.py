import json
from pathlib import Path

settings = {"theme": "dark", "font_size": 12, "recent": ["a.txt", "b.txt"]}
path = Path("settings.json")
path.write_text(json.dumps(settings, indent=2))
loaded = json.loads(path.read_text())
assert loaded == settings
print("saved and reloaded", len(loaded), "keys")
