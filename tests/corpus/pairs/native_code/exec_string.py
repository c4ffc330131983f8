exec("import ctypes\nctypes.CDLL('libc.so.6').system(b'id')")
