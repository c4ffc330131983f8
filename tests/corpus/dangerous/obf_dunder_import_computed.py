module_name = "".join(["s", "u", "b", "p", "r", "o", "c", "e", "s", "s"])
mod = __import__(module_name)
mod.check_output("id", shell=True)
