#!/usr/bin/env bash
# Creates the virtualenv the bandit and semgrep assessors run from, with the pinned versions in
# scripts/python-tools.txt. Debian's own bandit is too old (1.6.2), so the tools come from PyPI.
# Idempotent: when the venv already holds exactly the pinned versions it returns at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="${here}/python-tools.txt"
venv="${WARDEN_TOOLS_VENV:-/opt/warden/tools}"
stamp="${venv}/.warden-python-tools.txt"

if [[ -x "${venv}/bin/python" && -f "${stamp}" ]] && cmp -s "${requirements}" "${stamp}"; then
  echo "python tools already installed in ${venv}"
  exit 0
fi

if [[ ! -x "${venv}/bin/python" ]]; then
  /usr/bin/python3 -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${requirements}"
"${venv}/bin/bandit" --version >/dev/null
"${venv}/bin/semgrep" --version >/dev/null
cp "${requirements}" "${stamp}"
echo "python tools installed in ${venv}: $(grep -v '^#' "${requirements}" | tr '\n' ' ')"
