import subprocess
print(subprocess.PIPE)
