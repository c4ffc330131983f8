import subprocess
subprocess.check_output(["git", "status"])
