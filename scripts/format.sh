#!/usr/bin/env bash
# Formats every C and C++ file of the project (tracked, or new and not ignored)
# with the checked-in .clang-format.
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  exit 1 and list the files that need formatting
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.cc' '*.h' '*.hpp')
if [[ "${1:-}" == "--check" ]]; then
  bad=0
  for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "needs formatting: $f"; bad=1; }
  done
  exit $bad
fi
clang-format -i "${files[@]}"
