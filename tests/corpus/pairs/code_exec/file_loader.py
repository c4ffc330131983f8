# Disguised: the code written to a file and loaded as a module.
import importlib.util
import sys

with open("/tmp/m.py", "w") as f:
    f.write(sys.stdin.read())
spec = importlib.util.spec_from_file_location("m", "/tmp/m.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
