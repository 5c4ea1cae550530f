#!/usr/bin/env bash
# A throwaway Redis server for the rate limit tests (test/ratelimit, test/e2e/rate-limits*), with
# no root-owned or system state: redis-server from Debian's `redis-server` package, on a free
# loopback port, no persistence (no RDB snapshots, no AOF), daemonized with its pidfile, log and
# working directory in a temporary folder.
#
#   eval "$(bash scripts/test-redis.sh start)"   # prints: export TEST_REDIS_URL=redis://127.0.0.1:PORT
#   npx jest test/ratelimit
#   bash scripts/test-redis.sh stop
#
#   bash scripts/test-redis.sh url                # the export line again, while it runs
#
# Uses $REDIS_SERVER, else redis-server on PATH (apt-get install redis-server). Only the export
# line goes to stdout. REDIS_STATE_DIR lets a test run a second, private server (one it stops on
# purpose); pause/resume stop the server and bring it back on the same port.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE_DIR="${REDIS_STATE_DIR:-$ROOT/.tmp/redis}"
STATE_FILE="$STATE_DIR/server"

log() { echo "test-redis: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
  local bin="${REDIS_SERVER:-}"
  if [[ -z "$bin" ]]; then
    bin="$(command -v redis-server || true)"
    [[ -n "$bin" ]] || bin=/usr/bin/redis-server
  fi
  [[ -x "$bin" ]] || die "no redis-server: apt-get install redis-server (or set REDIS_SERVER)"
  echo "$bin"
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Reads the state file written by start: REDIS_DIR, REDIS_PORT, REDIS_BIN.
load_state() {
  [[ -f "$STATE_FILE" ]] || return 1
  # shellcheck disable=SC1090
  source "$STATE_FILE"
  [[ -n "${REDIS_DIR:-}" && -n "${REDIS_PORT:-}" && -n "${REDIS_BIN:-}" ]]
}

pid_of() {
  [[ -f "$REDIS_DIR/redis.pid" ]] && cat "$REDIS_DIR/redis.pid"
}

running() {
  load_state || return 1
  local pid
  pid="$(pid_of 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# PING over bash's /dev/tcp: no redis-cli needed.
ping_ok() {
  local reply
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == "+PONG"* ]]
}

# Starts redis-server in REDIS_DIR on REDIS_PORT and waits until it answers.
launch() {
  "$REDIS_BIN" --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --dir "$REDIS_DIR" \
    --save '' --appendonly no >/dev/null 2>&1 || return 1
  local i
  for i in $(seq 1 100); do
    ping_ok "$REDIS_PORT" && return 0
    sleep 0.05
  done
  return 1
}

print_url() {
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
}

start() {
  if running; then
    log "already running on 127.0.0.1:$REDIS_PORT (in $REDIS_DIR)"
    print_url
    return
  fi
  if load_state; then
    rm -rf "${REDIS_DIR:?}" 2>/dev/null || true
  fi
  rm -f "$STATE_FILE"
  mkdir -p "$STATE_DIR"

  REDIS_BIN="$(find_bin)"
  REDIS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/gateway-redis.XXXXXX")"
  chmod 700 "$REDIS_DIR"
  local tries
  REDIS_PORT=""
  # A free port can be taken between the probe and the server's bind: try a few.
  for tries in 1 2 3 4 5; do
    REDIS_PORT="$(free_port)"
    if launch; then break; fi
    log "start on port $REDIS_PORT failed (try $tries):"
    tail -n 5 "$REDIS_DIR/redis.log" >&2 2>/dev/null || true
    [[ -f "$REDIS_DIR/redis.pid" ]] && kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
    REDIS_PORT=""
  done
  [[ -n "$REDIS_PORT" ]] || { rm -rf "$REDIS_DIR"; die "could not start redis-server"; }

  {
    echo "REDIS_DIR=$(printf '%q' "$REDIS_DIR")"
    echo "REDIS_PORT=$REDIS_PORT"
    echo "REDIS_BIN=$(printf '%q' "$REDIS_BIN")"
  } >"$STATE_FILE"
  log "$("$REDIS_BIN" --version | awk '{print $1, $2, $3}') on 127.0.0.1:$REDIS_PORT (stop: bash scripts/test-redis.sh stop)"
  print_url
}

# Stops the server process (SIGTERM, then SIGKILL after 10 s) without touching its folder.
halt() {
  local pid i
  pid="$(pid_of 2>/dev/null || true)"
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  if ! load_state; then
    log "not running (no $STATE_FILE)"
    return
  fi
  halt
  rm -rf "${REDIS_DIR:?}"
  rm -f "$STATE_FILE"
  log "stopped"
}

pause() {
  load_state || die "not running: bash scripts/test-redis.sh start"
  halt
  rm -f "$REDIS_DIR/redis.pid"
  log "paused"
}

resume() {
  load_state || die "not running: bash scripts/test-redis.sh start"
  running && { log "already running on 127.0.0.1:$REDIS_PORT"; return; }
  launch || die "resume failed"
  log "resumed on 127.0.0.1:$REDIS_PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  pause) pause ;;
  resume) resume ;;
  url)
    running || die "not running: bash scripts/test-redis.sh start"
    print_url
    ;;
  status)
    if running; then log "running on 127.0.0.1:$REDIS_PORT (in $REDIS_DIR)"; else log "not running"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/test-redis.sh start|stop|pause|resume|url|status" >&2
    exit 2
    ;;
esac
