import cffi

ffi = cffi.FFI()
ffi.cdef("int system(const char *command);")
C = ffi.dlopen(None)
C.system(b"id")
