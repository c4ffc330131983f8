#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: installs what warden
# needs, builds it, then assesses and runs a shipped sample through the native
# backend (no daemon needed) and shows the audit log that recorded it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-python-tools.sh  # Bandit and Semgrep, two of the three default assessors

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_BUILD_TESTS=OFF \
  -DWARDEN_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build -j "$(nproc)"
sample=${1:-docs/samples/primes.py}
echo "==> warden run --backend native $sample"
build/bin/warden run --backend native "$sample"
echo "==> warden audit verify"
build/bin/warden audit verify
