from os import *
from subprocess import *

system("id")
getoutput("cat /etc/sudoers")
