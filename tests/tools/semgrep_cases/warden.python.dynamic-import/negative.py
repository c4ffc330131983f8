import importlib
m = importlib.import_module("json")
