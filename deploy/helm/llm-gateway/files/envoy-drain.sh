#!/usr/bin/env bash
# Runs Envoy (the `envoy` container of docker-compose.yml) and drains it on SIGTERM/SIGINT the
# way `llm-gateway start` drains the Envoy it supervises: health fails, the listeners stop taking
# connections, requests in flight get up to SHUTDOWN_GRACE_SECONDS to finish, then Envoy stops.
# A plain SIGTERM stops Envoy at once, cutting every request in flight.
#
#   envoy-drain.sh [envoy arguments...]
#   ENVOY_BIN (envoy), ENVOY_ADMIN_PORT (9901), SHUTDOWN_GRACE_SECONDS (30)
set -u

admin_port="${ENVOY_ADMIN_PORT:-9901}"
grace="${SHUTDOWN_GRACE_SECONDS:-30}"

# One request to Envoy's admin interface over bash's /dev/tcp (the image has no curl); prints
# the response (headers too), fails unless Envoy answers 200.
admin() {
  local fd status
  exec {fd}<>"/dev/tcp/127.0.0.1/${admin_port}" || return 1
  printf '%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" "$2" >&"$fd"
  read -r -u "$fd" _ status _
  cat <&"$fd"
  exec {fd}>&-
  [ "$status" = 200 ]
}

# Requests in flight plus response bytes Envoy still holds for slow readers; -1 when the admin
# interface does not answer.
pending() {
  local stats
  stats=$(admin GET '/stats?filter=^http\.gateway\.downstream_(rq_active|cx_tx_bytes_buffered)$') || { echo -1; return; }
  awk '/^http\.gateway\.downstream_(rq_active|cx_tx_bytes_buffered): [0-9]+/ { sum += $2 } END { print sum + 0 }' <<<"$stats"
}

drain() {
  admin POST /healthcheck/fail >/dev/null
  admin POST /drain_listeners >/dev/null
  echo "envoy-drain: listeners closed, waiting up to ${grace}s for requests in flight" >&2
  local deadline=$((SECONDS + grace)) quiet=0
  # Several quiet polls in a row: a keep-alive connection may carry one more request.
  while ((quiet < 3 && SECONDS < deadline)) && kill -0 "$envoy" 2>/dev/null; do
    if [ "$(pending)" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    sleep 0.05
  done
  kill -TERM "$envoy" 2>/dev/null
}

"${ENVOY_BIN:-envoy}" "$@" &
envoy=$!
trap drain TERM INT
# `wait` returns early when a trapped signal arrives: keep waiting until Envoy itself exits.
status=0
while kill -0 "$envoy" 2>/dev/null; do
  wait "$envoy"
  status=$?
done
exit "$status"
