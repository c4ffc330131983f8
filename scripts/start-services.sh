#!/usr/bin/env bash
# Starts the container engines the docker and podman backends talk to: dockerd
# on /var/run/docker.sock and the Podman API service on /run/podman/podman.sock.
# Idempotent: an engine that already answers its _ping is left alone. Needs root.
#
# Podman needs /etc/containers/containers.conf on this kind of host: crun refuses
# hybrid cgroups (runc does not), and Podman's default ulimits exceed the hard
# limits a container host commonly has. The file is written only when absent.
#
# Exit status: 0 when both engines answer; otherwise 1 under CI=true (the tests
# need them), 0 with a message naming what is down when run locally.
set -uo pipefail

docker_sock=/var/run/docker.sock
podman_sock=/run/podman/podman.sock
failed=()

answers() { # socket url
  curl -fsS --max-time 2 --unix-socket "$1" "$2" >/dev/null 2>&1
}

wait_for() { # name socket url log
  for _ in $(seq 1 100); do
    answers "$2" "$3" && return 0
    sleep 0.2
  done
  echo "start-services: $1 did not answer on $2 within 20 s; last lines of $4:" >&2
  tail -n 20 "$4" >&2 2>/dev/null || true
  return 1
}

if [[ $(id -u) -ne 0 ]]; then
  echo "start-services: needs root to start dockerd and the Podman service" >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 0
fi

if answers "$docker_sock" http://d/_ping; then
  echo "start-services: dockerd already answers on $docker_sock"
elif ! command -v dockerd >/dev/null; then
  failed+=("dockerd (not installed: scripts/install-deps.sh)")
else
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  wait_for dockerd "$docker_sock" http://d/_ping /var/log/dockerd.log || failed+=(dockerd)
fi

if [[ ! -e /etc/containers/containers.conf ]]; then
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'EOF'
# Written by warden's scripts/start-services.sh.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
EOF
fi

if answers "$podman_sock" http://d/v4.0.0/libpod/_ping; then
  echo "start-services: the Podman service already answers on $podman_sock"
elif ! command -v podman >/dev/null; then
  failed+=("the Podman service (podman not installed: scripts/install-deps.sh)")
else
  mkdir -p "$(dirname "$podman_sock")"
  rm -f "$podman_sock"
  # --time=0: the service otherwise exits after 5 s without requests. It runs
  # in its socket's directory because conmon drops an "oom" file in its working
  # directory when a container is OOM-killed.
  (cd "$(dirname "$podman_sock")" &&
    exec nohup podman system service --time=0 "unix://$podman_sock" >/var/log/podman-service.log 2>&1) &
  wait_for "the Podman service" "$podman_sock" http://d/v4.0.0/libpod/_ping \
    /var/log/podman-service.log || failed+=("the Podman service")
fi

if ((${#failed[@]} > 0)); then
  echo "start-services: not running: ${failed[*]}" >&2
  [[ ${CI:-} == true ]] && exit 1
  echo "start-services: the tests of those backends will be skipped" >&2
  exit 0
fi
echo "start-services: dockerd and the Podman service answer"
