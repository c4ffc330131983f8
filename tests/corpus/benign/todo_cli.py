import json
import os

TODO_FILE = "todos.json"


def load():
    if not os.path.exists(TODO_FILE):
        return []
    with open(TODO_FILE) as fh:
        return json.load(fh)


def save(todos):
    with open(TODO_FILE, "w") as fh:
        json.dump(todos, fh, indent=2)


todos = load()
todos.append({"title": "write report", "done": False})
save(todos)
print(f"{len(todos)} todo(s) saved")
