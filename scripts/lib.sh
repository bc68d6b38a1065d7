# Shared helpers for scripts/test.sh and scripts/components/*.sh. Source, don't run.

# KEYPORT_STATE is where components keep their data and logs for this run.
: "${KEYPORT_STATE:=$(mktemp -d "${TMPDIR:-/tmp}/keyport-test.XXXXXX")}"
export KEYPORT_STATE
# KEYPORT_CACHE survives runs on the same machine: built binaries, npm packages.
: "${KEYPORT_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/keyport}"
export KEYPORT_CACHE
mkdir -p "$KEYPORT_CACHE"

_keyport_pids=()

# log prints a line to stderr with a timestamp.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# free_port prints a TCP port that is free on 127.0.0.1.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# track PID remembers a process that stop_all ends.
track() { _keyport_pids+=("$1"); }

# kill_tree PID ends PID's descendants, then PID (a build in the background is a
# shell whose children do the work).
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

# stop_all ends every tracked process and what it started (trap it on EXIT).
stop_all() {
  local pid
  for pid in "${_keyport_pids[@]:-}"; do
    [ -n "$pid" ] || continue
    kill_tree "$pid"
  done
  for pid in "${_keyport_pids[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# wait_http URL [SECONDS] waits until URL answers any HTTP status.
wait_http() {
  local url=$1 secs=${2:-30} i
  for i in $(seq $((secs * 10))); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.1
  done
  log "no answer from $url after ${secs}s"
  return 1
}
