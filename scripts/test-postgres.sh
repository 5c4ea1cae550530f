#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests (test/store/postgres.test.ts), with no
# root-owned or system state: initdb into a temporary folder, listen on a free loopback port,
# socket in the same folder.
#
#   eval "$(bash scripts/test-postgres.sh start)"   # prints: export TEST_DATABASE_URL=postgres://…
#   npx jest test/store
#   bash scripts/test-postgres.sh stop
#
#   bash scripts/test-postgres.sh url                # the export line again, while it runs
#
# Uses the newest /usr/lib/postgresql/*/bin (Debian's `postgresql` package), or $PG_BIN. initdb
# refuses to run as root, so as root the server runs as the `postgres` system user (created by
# Debian's package), or a `gateway-pg` user made for it. Only the export line goes to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# PG_STATE_DIR lets a test run a second, private server (e.g. one it stops on purpose).
STATE_DIR="${PG_STATE_DIR:-$ROOT/.tmp/pg}"
STATE_FILE="$STATE_DIR/server"
DB_NAME=gateway_test

log() { echo "test-postgres: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || die "PG_BIN=$PG_BIN has no initdb/pg_ctl"
    echo "$PG_BIN"
    return
  fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -z "$newest" || ! -x "$newest/initdb" ]]; then
    die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: apt-get install postgresql (or set PG_BIN)"
  fi
  echo "$newest"
}

# The user the server runs as: ourselves, or an unprivileged one when we are root.
server_user() {
  if [[ "$(id -u)" != 0 ]]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id gateway-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin gateway-pg
    echo gateway-pg
  fi
}

# Runs a command as the server user.
as_user() {
  local user="$1"
  shift
  if [[ "$(id -un)" == "$user" ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$user" -- "$@"
  else
    su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
  fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Reads the state file written by start: DIR, PORT, BIN, USER.
load_state() {
  [[ -f "$STATE_FILE" ]] || return 1
  # shellcheck disable=SC1090
  source "$STATE_FILE"
  [[ -n "${PG_DIR:-}" && -n "${PG_PORT:-}" && -n "${PG_BIN_DIR:-}" && -n "${PG_USER:-}" ]]
}

running() {
  load_state && [[ -d "$PG_DIR/data" ]] && as_user "$PG_USER" "$PG_BIN_DIR/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

print_url() {
  echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
}

start() {
  if running; then
    log "already running on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
    print_url
    return
  fi
  # A stale state file (machine restarted, folder removed): forget it.
  if load_state; then
    rm -rf "${PG_DIR:?}" 2>/dev/null || true
  fi
  rm -f "$STATE_FILE"

  local bin user dir port tries
  bin="$(find_bin)"
  user="$(server_user)"
  # As root, /tmp rather than $TMPDIR: the server user must be able to reach the folder.
  if [[ "$(id -u)" == 0 ]]; then
    dir="$(mktemp -d /tmp/gateway-pg.XXXXXX)"
    chown "$user:" "$dir"
  else
    dir="$(mktemp -d "${TMPDIR:-/tmp}/gateway-pg.XXXXXX")"
  fi
  chmod 700 "$dir"
  mkdir -p "$STATE_DIR"

  log "initdb ($bin) as $user in $dir"
  as_user "$user" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }

  # A free port can be taken between the probe and the server's bind: try a few.
  for tries in 1 2 3 4 5; do
    port="$(free_port)"
    # fsync off: a test server's data is thrown away anyway, and it makes DDL-heavy tests faster.
    if as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      break
    fi
    log "start on port $port failed (try $tries):"
    tail -n 5 "$dir/server.log" >&2 || true
    port=""
  done
  [[ -n "$port" ]] || { rm -rf "$dir"; die "could not start PostgreSQL"; }

  {
    echo "PG_DIR=$(printf '%q' "$dir")"
    echo "PG_PORT=$port"
    echo "PG_BIN_DIR=$(printf '%q' "$bin")"
    echo "PG_USER=$(printf '%q' "$user")"
  } >"$STATE_FILE"
  PG_PORT="$port"

  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB_NAME" || die "createdb $DB_NAME failed"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database $DB_NAME (stop: bash scripts/test-postgres.sh stop)"
  print_url
}

stop() {
  if ! load_state; then
    log "not running (no $STATE_FILE)"
    return
  fi
  if [[ -d "$PG_DIR/data" ]]; then
    as_user "$PG_USER" "$PG_BIN_DIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "${PG_DIR:?}"
  rm -f "$STATE_FILE"
  log "stopped"
}

# pause/resume: stop the server but keep its data and port, then bring it back (outage tests).
pause() {
  load_state || die "not running: bash scripts/test-postgres.sh start"
  as_user "$PG_USER" "$PG_BIN_DIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || die "pause failed"
  log "paused"
}

resume() {
  load_state || die "not running: bash scripts/test-postgres.sh start"
  as_user "$PG_USER" "$PG_BIN_DIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 2>&1 || die "resume failed"
  log "resumed on 127.0.0.1:$PG_PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  pause) pause ;;
  resume) resume ;;
  url)
    running || die "not running: bash scripts/test-postgres.sh start"
    print_url
    ;;
  status)
    if running; then log "running on 127.0.0.1:$PG_PORT (data in $PG_DIR)"; else log "not running"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/test-postgres.sh start|stop|pause|resume|url|status" >&2
    exit 2
    ;;
esac
