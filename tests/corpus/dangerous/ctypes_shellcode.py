import ctypes
import mmap

shellcode = b"\x90\x90\x90\xcc"
buf = mmap.mmap(-1, len(shellcode), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(shellcode)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
func = ctypes.CFUNCTYPE(ctypes.c_void_p)(addr)
func()
