#!/usr/bin/env bash
# Builds the .deb with CPack and checks that it holds the program, the SDK,
# the plugins, the shipped configuration and policies, and the systemd unit
# of `warden serve` with the configuration it names.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB >/dev/null)
deb=$(ls "$work"/*.deb)
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/warden ./usr/include/warden/plugin_abi.h ./usr/include/warden/plugin.h \
            ./usr/lib/cmake/warden/wardenConfig.cmake ./usr/share/warden/config/warden.yaml \
            ./usr/share/warden/config/service.yaml ./usr/lib/systemd/system/warden.service; do
  grep -q " $path\$" <<<"$contents" || { echo "missing from $deb: $path" >&2; exit 1; }
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/warden.service |
  grep -q "^Environment=WARDEN_CONFIG=/usr/share/warden/config/service.yaml$" ||
  { echo "warden.service does not name the shipped service.yaml" >&2; exit 1; }
dpkg-deb -f "$deb" Package Version Depends
echo "package: ok ($(basename "$deb"))"
