#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
#   installs packages, the pinned Python analysis tools, starts dockerd and the
#   Podman service, builds warden, runs every test (Catch2 through CTest, the
#   abuse suite on every backend, the Python module's pytest suite), then an
#   ASan+UBSan build of the core tests. Formatting is checked first, right
#   after the packages, so a slip fails the run in seconds.
# Under CI=true a component the tests need that is missing or down fails the
# run; locally such tests print what they skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
step() { printf '\n==> %s\n' "$*"; }

step "packages";          scripts/install-deps.sh
step "formatting (first: it takes seconds)"; scripts/format.sh --check
step "Bandit and Semgrep (pinned, from PyPI)"; scripts/install-python-tools.sh
step "dockerd and the Podman service"; scripts/start-services.sh

step "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_BUILD_TESTS=ON \
  -DWARDEN_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build -j "$jobs"

step "the container backends' Python image (warden image build)"
if ! build/bin/warden image build; then
  [[ ${CI:-} == true ]] && exit 1
  echo "warden image build failed: the docker and podman tests will be skipped" >&2
fi

step "tests"
ctest --test-dir build -j "$jobs" --output-on-failure --timeout 900

step "Python package (its wheel into build/python-venv, pytest tests/python)"
scripts/test-python.sh

step "ASan+UBSan build of the core, heuristics and egress proxy tests (hostile input meets the analyzer and the proxy)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWARDEN_SANITIZE=address,undefined \
  -DWARDEN_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target core_tests heuristics_tests egress_tests warden fixture_plugins
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -R '^(core|heuristics|egress)_tests:' -j "$jobs" --output-on-failure

echo "all tests passed"
