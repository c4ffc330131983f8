#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds sdk/examples/embed out of
# tree against it with find_package(warden) and warden::warden (libwarden), and
# runs it: LOW code runs, HIGH code waits for --confirm, bad input exits 2.
set -euo pipefail
build=$1 example=$2
if [[ ! -x /usr/bin/bwrap ]]; then
  [[ ${CI:-} == true ]] && { echo "bubblewrap (/usr/bin/bwrap) is missing" >&2; exit 1; }
  echo "skipped: bubblewrap (/usr/bin/bwrap) is missing, the example cannot run code"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$example" -B "$work/embed-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/embed-build" >/dev/null
embed=$work/embed-build/embed_warden

cat >"$work/warden.yaml" <<YAML
log_level: warn
audit:
  directory: $work/audit
  signing_key: $work/keys/audit.key
YAML
printf "print('Hello, World!')\n" >"$work/low.py"
printf "import ctypes\nimport pickle\nprint(pickle.loads(pickle.dumps(1)))\nopen('/etc/shadow')\n" \
  >"$work/high.py"
printf "  \n" >"$work/empty.py"

expect() {  # expect STATUS PATTERN ARGS...: run the example, check status and output
  local want=$1 pattern=$2 status=0 out
  shift 2
  out=$("$embed" --config "$work/warden.yaml" "$@" 2>&1) || status=$?
  if [[ $status != "$want" ]] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "embed_warden $*: exit $status (want $want), output:" >&2
    echo "$out" >&2
    exit 1
  fi
}
expect 0 "^Hello, World!$" "$work/low.py"
expect 1 "decision needs_confirmation" "$work/high.py"
expect 1 "decision ran" --confirm "$work/high.py"   # runs, then fails opening /etc/shadow
expect 2 "Code cannot be empty" "$work/empty.py"
"$work/prefix/bin/warden" --config "$work/warden.yaml" audit verify >/dev/null
echo "embed example: ok"
