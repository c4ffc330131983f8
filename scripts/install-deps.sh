#!/usr/bin/env bash
# Installs the Debian 12 packages warden needs to build, test and run.
# Idempotent: does nothing when everything is already installed. Needs root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git clang-format dpkg-dev file
  # libraries named by the design: Lua 5.4, yaml-cpp, OpenSSL, Boost.DLL, spdlog, Catch2
  liblua5.4-dev libyaml-cpp-dev libtomlplusplus-dev libssl-dev libboost-dev libspdlog-dev libfmt-dev catch2
  nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libseccomp-dev
  # ICU: identifiers in NFKC form, as CPython reads them (internal/lang/python/source.cc)
  libicu-dev
  # zlib: constants decoded as zlib.decompress would (internal/lang/python/payload.cc)
  zlib1g-dev
  # the Python module and the tools' virtualenv; pip's wheel for the install
  # phase of programs that need packages (docs/dependencies.md), openssl for
  # the certificates of the tests' package index
  pybind11-dev python3-dev python3-venv python3-pip python3-pip-whl openssl
  # sandbox backends
  bubblewrap docker.io podman runc catatonit iptables uidmap slirp4netns fuse-overlayfs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
