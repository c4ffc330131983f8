import importlib

libc = importlib.import_module.__call__("ctypes").CDLL("libc.so.6")
libc.system(b"id")
