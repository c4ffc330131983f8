import subprocess
subprocess.run("ls -l", shell=True)
