#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds the example plugin out of
# tree against it with find_package(warden), and checks that the installed
# warden loads and lists it, and that the plugin works.
set -euo pipefail
build=$1 example=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/lib/cmake/warden/wardenConfig.cmake"
test -f "$work/prefix/include/warden/plugin.h"

cmake -S "$example" -B "$work/plugin-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin-build" >/dev/null
test -f "$work/plugin-build/forbidden_imports.so"

mkdir -p "$work/plugins"
cp "$work/plugin-build/forbidden_imports.so" "$work/plugins/"
chmod 0755 "$work/plugins" && chmod 0644 "$work/plugins/forbidden_imports.so"
cat >"$work/warden.yaml" <<YAML
plugins:
  directories: [$work/plugins]
assessors:
  enabled: [forbidden_imports]
  settings:
    forbidden_imports: {modules: [socket], severity: high}
backends:
  enabled: []
YAML

list=$("$work/prefix/bin/warden" --config "$work/warden.yaml" plugins list --json)
python3 - "$list" <<'PY'
import json, sys
plugins = json.loads(sys.argv[1])
found = [p for p in plugins if p["name"] == "forbidden_imports"]
assert found, f"forbidden_imports not listed: {plugins}"
p = found[0]
assert p["status"] == "loaded", p
assert p["kind"] == "assessor" and p["version"] == "1.0.0" and p["abi"] == "1.1", p
print("listed:", p["name"], p["kind"], p["version"], "ABI", p["abi"])
PY

status=$("$work/prefix/bin/warden" --config "$work/warden.yaml" status --json)
python3 - "$status" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
p = [p for p in s["plugins"] if p["name"] == "forbidden_imports"][0]
assert p["available"], p
PY

# A setting the plugin rejects is a configuration error pointing into the file.
sed -i 's/severity: high/severity: extreme/' "$work/warden.yaml"
if out=$("$work/prefix/bin/warden" --config "$work/warden.yaml" status 2>&1); then
  echo "expected a configuration error, got: $out" >&2; exit 1
fi
echo "$out" | grep -q "$work/warden.yaml:6:54: assessors.settings.forbidden_imports.severity" \
  || { echo "unexpected message: $out" >&2; exit 1; }
echo "out-of-tree plugin: ok"

# An embedder: the example program links libwarden and runs code through the
# installed host, its plugins and the shipped default policy.
embed_example=$(dirname "$example")/embed
cmake -S "$embed_example" -B "$work/embed-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/embed-build" >/dev/null
cat >"$work/embed.yaml" <<YAML
log_level: warn
policies: {directory: $work/prefix/share/warden/policies/default}
audit: {directory: $work/audit, signing_key: $work/keys/audit.key}
YAML
printf 'print(6 * 7)\n' >"$work/answer.py"
out=$("$work/embed-build/embed_example" "$work/answer.py" --config "$work/embed.yaml")
[[ "$out" == $'decision: ran, level LOW\n42' ]] || { echo "unexpected embed output: $out" >&2; exit 1; }
"$work/prefix/bin/warden" --config "$work/embed.yaml" audit verify >/dev/null
echo "embedding example: ok"
