import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { waitFor } from '../helpers/gateway';
import { freePorts } from '../helpers/ports';

/**
 * The container image's contents, without a container engine: scripts/build-image.sh (the
 * script the Dockerfile runs) builds into a temporary folder, then the gateway starts from that
 * output alone, with the compose configuration (deploy/gateway.compose.yaml) moved to loopback
 * ports and a local Envoy, serves a request through Envoy and records its usage in the SQLite
 * store: better-sqlite3's native module was built and loads.
 *
 * No network is assumed: production dependencies come from the npm cache (or the registry), and
 * better-sqlite3's binary is offered to its installer (prebuild-install) as a local prebuild
 * made from the repository's own install on this machine; without one it is compiled.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_KEY = 'sk-gateway-demo';
const ADMIN_KEY = 'sk-image-test-admin-0123456789';
const run = promisify(execFile);

// With the local prebuild the build takes well under a minute; compiling better-sqlite3 (no
// binary to offer) takes minutes on a small machine.
const BUILD_TIMEOUT_MS = 420_000;

let work: string;
let out: string;
let buildLog = '';

/** better-sqlite3's binary from the repository's install, packed as prebuild-install expects. */
async function localPrebuild(dir: string): Promise<string | undefined> {
  const pkgDir = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const binary = path.join(pkgDir, 'build', 'Release', 'better_sqlite3.node');
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const locked: string | undefined = lock.packages?.['node_modules/better-sqlite3']?.version;
  const installed: string = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  // prebuild-install names glibc builds without a libc suffix; musl ones are left to node-gyp.
  const glibc = !!(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime;
  if (!fs.existsSync(binary) || locked !== installed || process.platform !== 'linux' || !glibc) return undefined;
  try {
    // Built for this very Node (a repository installed under another one would not load).
    const Database = require(pkgDir) as typeof import('better-sqlite3');
    new Database(':memory:').close();
  } catch {
    return undefined;
  }
  const stage = path.join(dir, 'stage');
  fs.mkdirSync(path.join(stage, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(binary, path.join(stage, 'build', 'Release', 'better_sqlite3.node'));
  const prebuilds = path.join(dir, 'prebuilds');
  fs.mkdirSync(prebuilds);
  const name = `better-sqlite3-v${installed}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-C', stage, '-czf', path.join(prebuilds, name), 'build']);
  return prebuilds;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-image-'));
  out = path.join(work, 'app');
  const prebuilds = await localPrebuild(work);
  const env: NodeJS.ProcessEnv = { ...process.env, BUILD_IMAGE_TYPECHECK: '0' };
  if (prebuilds) env.npm_config_better_sqlite3_local_prebuilds = prebuilds;
  try {
    const r = await run('bash', [path.join(ROOT, 'scripts', 'build-image.sh'), out], { env, maxBuffer: 64 << 20, timeout: BUILD_TIMEOUT_MS - 10_000 });
    buildLog = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`scripts/build-image.sh failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the build output holds the compiled gateway and production dependencies only', () => {
  expect(buildLog).toContain('build-image: better-sqlite3 loads');
  for (const f of ['package.json', 'package-lock.json', 'dist/src/cli.js', 'dist/plugins', 'scripts/install-envoy.js', 'dist/console/index.html']) {
    expect(fs.existsSync(path.join(out, f))).toBe(true);
  }
  expect(fs.existsSync(path.join(out, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
  for (const dev of ['typescript', 'jest', 'ts-jest', '@types/jest', '@redocly/cli', 'autocannon', 'dependency-cruiser']) {
    expect(fs.existsSync(path.join(out, 'node_modules', dev))).toBe(false);
  }
  // No Envoy download, no sources, no tests.
  for (const absent of ['.envoy', 'src', 'test', 'dist/test', 'dist/bench']) {
    expect(fs.existsSync(path.join(out, absent))).toBe(false);
  }
});

/** deploy/gateway.compose.yaml, moved to loopback ports, a local Envoy and a data folder here. */
function composeConfigOnLoopback(dir: string, [http, envoyAdmin, grpc, admin, echo]: number[]): Record<string, any> {
  const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'gateway.compose.yaml'), 'utf8'));
  config.server = { ...config.server, listen_address: '127.0.0.1', http_port: http, shutdown_grace_seconds: 1 };
  config.envoy = {
    ...config.envoy,
    manage: true,
    admin_address: '127.0.0.1',
    admin_port: envoyAdmin,
    bootstrap_path: path.join(dir, 'envoy.yaml'),
    log_level: 'error',
    concurrency: 1,
  };
  config.processor = { ...config.processor, listen_address: '127.0.0.1', advertise_address: '127.0.0.1', grpc_port: grpc, admin_port: admin };
  config.demo.echo = { ...config.demo.echo, port: echo, chunk_delay_ms: 0 };
  for (const p of config.providers) {
    if (p.name === 'echo') p.base_url = `http://127.0.0.1:${echo}/v1`;
  }
  // SQLite (no DATABASE_URL): the store that needs the native module.
  config.store = { data_dir: path.join(dir, 'data') };
  config.usage = { ...config.usage, flush_interval_ms: 20 };
  return config;
}

interface Started {
  proc: ChildProcess;
  url: string;
  envoyAdmin: string;
  dir: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startFromOutput(): Promise<Started> {
  const installer = require(path.join(ROOT, 'scripts', 'install-envoy.js')) as { locate(): { bin: string | null; tried: string[] } };
  const envoy = installer.locate();
  if (!envoy.bin) throw new Error(`no Envoy for this test (set ENVOY_BIN or run npm run envoy:install); tried ${envoy.tried.join(', ')}`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of this machine's gateway settings: no PostgreSQL, Redis or real provider.
    if (!/^(GATEWAY_|DATABASE_URL$|REDIS_URL$|OPENAI_API_KEY$|NODE_PATH$|ENVOY_)/.test(k)) env[k] = v;
  }
  Object.assign(env, { NODE_ENV: 'production', GATEWAY_SKIP_ENVOY_DOWNLOAD: '1', ENVOY_BIN: envoy.bin, GATEWAY_ADMIN_KEY: ADMIN_KEY });
  for (let attempt = 1; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(work, 'run-'));
    const ports = await freePorts(5);
    const configFile = path.join(dir, 'gateway.yaml');
    fs.writeFileSync(configFile, YAML.stringify(composeConfigOnLoopback(dir, ports)));
    // Started as the image starts it, from the build output, in a folder outside the repository
    // (so nothing resolves to the repository's node_modules).
    const proc = spawn(process.execPath, [path.join(out, 'dist', 'src', 'cli.js'), 'start', '-c', configFile], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    proc.stdout!.on('data', (d) => (text += d));
    proc.stderr!.on('data', (d) => (text += d));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const ready = await Promise.race([
      waitFor(() => /"msg":"gateway ready"/.test(text), 60_000).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) return { proc, url: `http://127.0.0.1:${ports[0]}`, envoyAdmin: `http://127.0.0.1:${ports[1]}`, dir, output: () => text, exited };
    if (proc.exitCode === null) proc.kill('SIGKILL');
    if (!/Address already in use|already in use/.test(text) || attempt >= 3) throw new Error(`gateway from the build output did not start:\n${text}`);
  }
}

test('the gateway runs from the build output: a request through Envoy, its usage in SQLite', async () => {
  const gw = await startFromOutput();
  try {
    expect(gw.output()).toContain('"store":"sqlite"');

    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_KEY}` },
      body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hello from the image' }] }),
    });
    const body = await res.text();
    expect({ status: res.status, body }).toMatchObject({ status: 200 });
    expect(JSON.parse(body).choices[0].message.content).toContain('hello from the image');
    // Served by Envoy's public listener (the processor only speaks ext_proc and admin).
    const stats = await (await fetch(`${gw.envoyAdmin}/stats?filter=${encodeURIComponent('^http\\.gateway\\.downstream_rq_2xx$')}`)).text();
    expect(Number(/downstream_rq_2xx: (\d+)/.exec(stats)?.[1])).toBeGreaterThanOrEqual(1);

    // The usage record, read back through the admin API from the SQLite store.
    const requests = await waitFor(async () => {
      const r = await fetch(`${gw.url}/v1/usage?group_by=key`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const j = (await r.json()) as { data?: { requests?: number }[] };
      const n = r.status === 200 ? (j.data ?? []).reduce((sum, d) => sum + (d.requests ?? 0), 0) : 0;
      return n >= 1 ? n : undefined;
    }, 15_000, 100);
    expect(requests).toBe(1);

    // The admin console, built into the image, served through Envoy.
    const page = await fetch(`${gw.url}/console`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const script = /src="(\/console\/app-[\w]+\.js)"/.exec(await page.text())?.[1];
    expect((await fetch(`${gw.url}${script}`)).status).toBe(200);
  } finally {
    if (gw.proc.exitCode === null) gw.proc.kill('SIGTERM');
    const killer = setTimeout(() => gw.proc.kill('SIGKILL'), 20_000);
    const code = await gw.exited;
    clearTimeout(killer);
    expect({ code, output: code === 0 ? '' : gw.output() }).toEqual({ code: 0, output: '' });
  }

  // The database file itself, opened with the build output's better-sqlite3.
  const Database = require(path.join(out, 'node_modules', 'better-sqlite3')) as typeof import('better-sqlite3');
  const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
  try {
    const { n } = db.prepare('SELECT count(*) AS n FROM usage_records').get() as { n: number };
    expect(n).toBeGreaterThanOrEqual(1);
  } finally {
    db.close();
  }
}, 120_000);
