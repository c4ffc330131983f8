#!/usr/bin/env bash
# The Python package's test suite: builds the wheel of this repository once
# (build/python-dist; the CMake build is kept in build/python-wheel, so a
# re-run rebuilds only what changed), installs that wheel into a virtualenv
# (build/python-venv, made with Debian's /usr/bin/python3), then runs pytest
# on tests/python. The wheel goes in with its mcp extra (the MCP SDK), for the
# MCP server's tests. $WARDEN_WHEEL tells the tests which wheel that was, so
# the packaging tests install the very same file elsewhere.
# Exit 0 only when the tests ran and passed; pytest's "no tests ran" (5) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/build/python-venv
dist=$root/build/python-dist
pip_quiet=(--disable-pip-version-check --quiet)

if [[ ! -x $venv/bin/python ]]; then
  /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install "${pip_quiet[@]}" pytest
echo "test-python: building the warden wheel (build dir build/python-wheel)"
rm -rf "$dist"
"$venv/bin/pip" wheel "${pip_quiet[@]}" --no-deps --wheel-dir "$dist" \
  --config-settings=build-dir="$root/build/python-wheel" "$root"
wheels=("$dist"/warden-*.whl)
export WARDEN_WHEEL=${wheels[0]}
echo "test-python: installing $(basename "$WARDEN_WHEEL") into build/python-venv"
"$venv/bin/pip" install "${pip_quiet[@]}" --force-reinstall --no-deps "$WARDEN_WHEEL"
"$venv/bin/pip" install "${pip_quiet[@]}" "$WARDEN_WHEEL[mcp]"  # its dependencies, the MCP SDK too

status=0
"$venv/bin/python" -m pytest -o cache_dir="$root/build/pytest-cache" "$root/tests/python" "$@" \
  || status=$?
if ((status == 5)); then
  echo "test-python: pytest collected no tests: that is a failure" >&2
fi
exit "$status"
