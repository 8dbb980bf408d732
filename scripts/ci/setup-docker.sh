#!/usr/bin/env bash
# Make a Docker engine available on a fresh Debian machine without systemd:
# install Debian's docker.io if needed and start dockerd by hand.
set -euo pipefail

if ! command -v dockerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "setup-docker: engine already running"
  exit 0
fi

log=${DOCKERD_LOG:-/var/log/claude-bottle-dockerd.log}
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "setup-docker: dockerd ready"
    exit 0
  fi
  sleep 0.5
done
echo "setup-docker: dockerd did not become ready; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
