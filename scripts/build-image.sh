#!/usr/bin/env bash
# Builds what the container image runs, into OUTDIR: the compiled gateway (dist/), production
# dependencies only (node_modules/, native modules built for this platform), package.json and
# the Envoy locator script the supervisor loads. The Dockerfile runs exactly this script, and
# test/e2e/image.test.ts runs it too and starts the gateway from its output.
#
#   scripts/build-image.sh OUTDIR
#
# OUTDIR must be outside the source tree and empty or missing. Needs Node and npm, plus python3,
# make and a C++ compiler when no prebuilt better-sqlite3 binary can be had for this platform
# (prebuild-install downloads one from GitHub; npm_config_better_sqlite3_local_prebuilds=DIR
# offers local ones). TypeScript comes from the source tree's node_modules, installed there with
# `npm ci --ignore-scripts` when missing. Envoy is never downloaded: the image runs the processor.
# BUILD_IMAGE_TYPECHECK=0 emits without type checking (tsc --noCheck; the same JavaScript, as
# the project compiles with isolatedModules): for tests, after `npm run build` has checked.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

src="$(cd "$(dirname "$0")/.." && pwd -P)"
out="$(realpath -m "$1")"
case "$out/" in
  "$src"/*) echo "build-image: OUTDIR must be outside the source tree ($src)" >&2; exit 1 ;;
esac
mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "build-image: $out is not empty" >&2
  exit 1
fi

export GATEWAY_SKIP_ENVOY_DOWNLOAD=1 \
  npm_config_audit=false \
  npm_config_fund=false \
  npm_config_update_notifier=false \
  npm_config_prefer_offline=true
# node-gyp compiles against the running Node's installed headers when it has them (the official
# images and distribution packages do) instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix="$(dirname "$(dirname "$(node -p 'process.execPath')")")"
  if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
fi

step() { echo "build-image: $*" >&2; }

tmp="$(mktemp -d)"
deps_pid=
cleanup() {
  if [ -n "$deps_pid" ]; then kill "$deps_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- 1. production dependencies, exactly as locked (in the background while tsc runs) ----
step "installing production dependencies into $out/node_modules"
cp "$src/package.json" "$src/package-lock.json" "$out/"
# The package's own lifecycle scripts must not run (its postinstall downloads Envoy and compiles
# with dev dependencies); the dependencies' run in step 3, for native modules only.
(cd "$out" && exec npm ci --omit=dev --ignore-scripts) &
deps_pid=$!

# ---- 2. compile src/ and plugins/ into OUTDIR/dist (dist/src/cli.js, dist/plugins/...) ----
if [ ! -x "$src/node_modules/.bin/tsc" ]; then
  step "installing the build toolchain (npm ci --ignore-scripts) in $src"
  (cd "$src" && npm ci --ignore-scripts)
fi
step "compiling TypeScript into $out/dist"
cat >"$tmp/tsconfig.json" <<JSON
{
  "extends": "$src/tsconfig.json",
  "compilerOptions": {
    "outDir": "$out/dist",
    "rootDir": "$src",
    "tsBuildInfoFile": "$tmp/tsbuildinfo",
    "typeRoots": ["$src/node_modules/@types"],
    "declaration": false
  },
  "include": ["$src/src/**/*.ts", "$src/plugins/**/*.ts"]
}
JSON
tsc_flags=()
if [ "${BUILD_IMAGE_TYPECHECK:-1}" = 0 ]; then tsc_flags+=(--noCheck); fi
"$src/node_modules/.bin/tsc" -p "$tmp/tsconfig.json" ${tsc_flags[@]+"${tsc_flags[@]}"}

# The admin console's page and bundled files (esbuild, a dev dependency of the source tree).
step "building the admin console into $out/dist/console"
node "$src/scripts/build-console.mjs" "$out/dist/console" >&2

wait "$deps_pid"
deps_pid=

# ---- 3. native modules (a binding.gyp: better-sqlite3) ----
# Their install scripts fetch a prebuilt binary for this platform (prebuild-install) or compile
# one (node-gyp).
native=()
for gyp in "$out"/node_modules/*/binding.gyp "$out"/node_modules/@*/*/binding.gyp; do
  [ -f "$gyp" ] || continue
  rel="${gyp#"$out/node_modules/"}"
  native+=("${rel%/binding.gyp}")
done
if [ ${#native[@]} -gt 0 ]; then
  step "building native modules: ${native[*]}"
  (cd "$out" && npm rebuild --foreground-scripts "${native[@]}")
  for pkg in "${native[@]}"; do
    # Keep the built *.node files, drop the compiler's intermediates.
    build="$out/node_modules/$pkg/build"
    if [ -d "$build/Release" ]; then
      find "$build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
      find "$build/Release" -mindepth 1 -maxdepth 1 ! -name '*.node' -exec rm -rf {} +
      rm -f "$build/Release/test_extension.node"
    fi
  done
fi

# ---- 4. run-time files beside dist/ ----
mkdir -p "$out/scripts"
# Loaded by the Envoy supervisor (src/envoy/supervisor.ts) to locate an Envoy binary.
cp "$src/scripts/install-envoy.js" "$out/scripts/"

# ---- 5. check the output: the SQLite driver opens a database, the CLI loads ----
(cd "$out" && node -e '
  const Database = require("better-sqlite3");
  const db = new Database(":memory:");
  const { v } = db.prepare("select sqlite_version() as v").get();
  db.close();
  console.error(`build-image: better-sqlite3 loads (SQLite ${v})`);
')
node "$out/dist/src/cli.js" --help >/dev/null
if [ ! -f "$out/dist/console/index.html" ]; then
  echo "build-image: the admin console was not built ($out/dist/console/index.html)" >&2
  exit 1
fi
for dev in typescript jest ts-jest @redocly/cli autocannon; do
  if [ -e "$out/node_modules/$dev" ]; then
    echo "build-image: dev dependency $dev found in $out/node_modules" >&2
    exit 1
  fi
done
step "done: $out ($(du -sh "$out" | cut -f1))"
