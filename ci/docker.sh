#!/usr/bin/env bash
# Make a Docker daemon available for the image tests, from nothing: install
# docker.io and debootstrap from Debian if missing, start dockerd if it is not
# answering, and wait until it does. Safe to run any number of times.
# Storage: overlay2 where the kernel/filesystem allow it, else vfs (slow, but
# works inside containers and on odd filesystems).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
LOG=${GEMHUB_DOCKERD_LOG:-/var/log/gemhub-dockerd.log}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "docker: daemon already running ($(docker info --format '{{.Driver}}' 2>/dev/null) storage)"
  exit 0
fi

start_dockerd() {  # $1: storage driver; returns 0 once `docker info` answers
  nohup dockerd --storage-driver "$1" >>"$LOG" 2>&1 &
  local pid=$!
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "docker: dockerd started (pid $pid, $1 storage, log $LOG)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 1
  done
  kill "$pid" 2>/dev/null || true
  return 1
}

for driver in overlay2 vfs; do
  if start_dockerd "$driver"; then exit 0; fi
  echo "docker: dockerd would not start with $driver storage (see $LOG)" >&2
  # A failed start can leave its pid file behind, which blocks the next try.
  rm -f /var/run/docker.pid
done
echo "docker: could not start dockerd; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2
exit 1
