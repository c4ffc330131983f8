"""The ``warden`` command of the Python package: runs the C++ ``warden``
program installed in the package (``warden/bin/warden``), which finds its
plugins, policies and default warden.yaml in the package folder like the
module does. Before it starts, the user's warden.yaml (when there is one and
neither --config nor $WARDEN_CONFIG names another) and Bandit and Semgrep
installed in this environment are made known to it, as for the module, and
this interpreter becomes $WARDEN_PYTHON (unless set), the Python that
``warden mcp`` runs the MCP server with."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

from warden._locations import default_config_path, use_installed_assessors

__all__ = ["main"]


def program() -> Path:
    """The path of the C++ warden program in this package."""
    return Path(__file__).resolve().parent / "bin" / "warden"


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    binary = program()
    if not binary.is_file():
        sys.exit(f"warden: the warden program is missing from the package ({binary})")
    use_installed_assessors()
    if not os.environ.get("WARDEN_PYTHON") and sys.executable:
        os.environ["WARDEN_PYTHON"] = sys.executable
    if not os.environ.get("WARDEN_CONFIG") and not any(
        a == "--config" or a.startswith("--config=") for a in args
    ):
        os.environ["WARDEN_CONFIG"] = default_config_path()
    os.execv(str(binary), [str(binary), *args])
