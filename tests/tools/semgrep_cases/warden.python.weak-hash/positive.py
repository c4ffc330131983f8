import hashlib
print(hashlib.md5(b"x").hexdigest())
