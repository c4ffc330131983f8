"""Where the installed package looks for its configuration and tools.

The package's own files (plugins, the default warden.yaml, policies) live in
the package folder; nothing is written there. What a user changes or warden
writes lives in user locations (docs/embedding.md, "Where things live"):

- configuration: ``$WARDEN_CONFIG``, else ``$XDG_CONFIG_HOME/warden/warden.yaml``
  (``~/.config/warden/warden.yaml``) when it exists, else the installed
  default;
- the audit log and its key: the default warden.yaml puts them under
  ``$XDG_STATE_HOME/warden`` (``~/.local/state/warden``; without HOME, the
  home folder of the user's passwd entry);
- Bandit and Semgrep: ``$WARDEN_TOOLS_VENV``, else this environment when
  they are installed in it (``pip install 'warden[assessors]'``), else
  /opt/warden/tools (scripts/install-python-tools.sh).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import sys
from pathlib import Path
from typing import Optional

from warden._warden import data_directory

__all__ = ["default_config_path", "user_config_path", "use_installed_assessors"]


def _home() -> Optional[Path]:
    home = os.environ.get("HOME")
    if home:
        return Path(home)
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return None


def user_config_path() -> Optional[Path]:
    """The user's warden.yaml location (it may not exist)."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg) / "warden" / "warden.yaml"
    home = _home()
    return home / ".config" / "warden" / "warden.yaml" if home else None


def default_config_path() -> str:
    """The warden.yaml used when none is named: $WARDEN_CONFIG, then the
    user's, then the installed one."""
    env = os.environ.get("WARDEN_CONFIG")
    if env:
        return env
    user = user_config_path()
    if user is not None and user.is_file():
        return str(user)
    return str(Path(data_directory()) / "config" / "warden.yaml")


def use_installed_assessors() -> None:
    """Points the bandit and semgrep plugins at this Python environment when
    Bandit or Semgrep is installed in it and $WARDEN_TOOLS_VENV is not set.
    The plugins run ``<venv>/bin/python`` (importing bandit) and
    ``<venv>/bin/semgrep``."""
    if os.environ.get("WARDEN_TOOLS_VENV"):
        return
    prefix = Path(sys.prefix)
    has_bandit = importlib.util.find_spec("bandit") is not None
    has_semgrep = (prefix / "bin" / "semgrep").is_file()
    if (has_bandit or has_semgrep) and (prefix / "bin" / "python").exists():
        os.environ["WARDEN_TOOLS_VENV"] = str(prefix)
