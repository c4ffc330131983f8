#!/usr/bin/env bash
# The Python module's test suite: `pip install .` of this repository into a
# virtualenv (build/python-venv, made with Debian's /usr/bin/python3), then
# pytest on tests/python. The CMake build of the wheel is kept in
# build/python-wheel, so a re-run rebuilds only what changed.
# Exit 0 only when the tests ran and passed; pytest's "no tests ran" (5) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/build/python-venv
pip_quiet=(--disable-pip-version-check --quiet)

if [[ ! -x $venv/bin/python ]]; then
  /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install "${pip_quiet[@]}" pytest
echo "test-python: building and installing the warden module (build dir build/python-wheel)"
"$venv/bin/pip" install "${pip_quiet[@]}" --config-settings=build-dir="$root/build/python-wheel" "$root"

status=0
"$venv/bin/python" -m pytest -o cache_dir="$root/build/pytest-cache" "$root/tests/python" "$@" \
  || status=$?
if ((status == 5)); then
  echo "test-python: pytest collected no tests: that is a failure" >&2
fi
exit "$status"
