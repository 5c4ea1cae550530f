/**
 * `npm run bench`: what the gateway costs on top of Envoy and on top of no proxy at all.
 *
 * One fake OpenAI upstream, three targets measured with the same request and the same number
 * of connections: (a) the upstream directly, (b) Envoy alone (no ext_proc), (c) the full
 * gateway (Envoy + processor + plugins). Plus a streaming scenario, direct and through the
 * gateway. Prints a table and the added latency, writes bench/results/latest.json, and exits
 * non-zero if any request failed or answered non-2xx.
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 2),
 * BENCH_CONNECTIONS (default 16), BENCH_STREAM=0 to skip streaming, BENCH_GATEWAY_LOG_LEVEL
 * (default warn), BENCH_TIMEOUT (s, overall limit; default derived from the durations),
 * ENVOY_BIN (as for the gateway).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findEnvoy } from '../src/envoy/supervisor';
import { clusterNameFor } from '../src/providers/registry';
import { envoyAloneBootstrap } from './envoy-alone';
import type { FakeUpstreamMessage } from './fake-upstream';
import { runLoad, stopLoad, type LoadResult } from './load';
import { LOOPBACK, Managed, childrenOf, freePorts, memoryOf, startProcess, waitForHttp, type MemoryReading } from './procs';

const ROOT = path.resolve(__dirname, '..', '..');
const GATEWAY_CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'latest.json');
const API_KEY = 'sk-bench-key-123';
const MODEL = 'fake-1';
const PROVIDER = 'fake';

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name}=${raw} is not a number >= ${min}`);
  return v;
}

const DURATION = envNumber('BENCH_DURATION', 10, 1);
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 16, 1));
const STREAM = process.env.BENCH_STREAM !== '0';
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL || 'warn';
const RUNS = 3 + (STREAM ? 2 : 0);
const TIMEOUT_S = envNumber('BENCH_TIMEOUT', RUNS * (WARMUP + DURATION + 15) + 120, 10);

const CHAT_BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
const STREAM_BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
  stream_options: { include_usage: true },
});
const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };

interface TargetResult extends LoadResult {
  target: string;
  url: string;
  streaming: boolean;
  warmup: { requests: number; errors: number; non2xx: number; status_codes: Record<string, number> } | null;
  upstream_served: number;
}

const log = (msg: string) => process.stdout.write(`${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Processes and cleanup

const processes: Managed[] = [];
let tmpDir: string | undefined;
let cleaning: Promise<void> | undefined;
let aborting = false;
let abortReason = '';
let abortCode = 1;

/** Registers a child for cleanup; after an abort, stops it at once and ends the run. */
function track(proc: Managed): Managed {
  processes.push(proc);
  if (aborting) {
    void proc.stop(2000);
    throw new Error(abortReason);
  }
  return proc;
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    for (const p of [...processes].reverse()) {
      try {
        await p.stop(p.name === 'gateway' ? 15_000 : 5_000);
      } catch {
        // best effort
      }
    }
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  })();
  return cleaning;
}

async function stopProcess(p: Managed): Promise<void> {
  await p.stop(p.name === 'gateway' ? 15_000 : 5_000);
  const i = processes.indexOf(p);
  if (i >= 0) processes.splice(i, 1);
}

/**
 * Ends the run early: stops the load and every child; main() then reports what it has and
 * exits with `code`. A hard deadline covers anything that still hangs.
 */
function abort(reason: string, code: number): void {
  if (aborting) return;
  aborting = true;
  abortReason = reason;
  abortCode = code;
  process.stderr.write(`\nbench: ${reason}; cleaning up\n`);
  setTimeout(() => {
    process.stderr.write('bench: cleanup did not finish in 45 s; exiting anyway\n');
    process.exit(code);
  }, 45_000);
  void cleanup();
}

process.on('SIGINT', () => abort('interrupted (SIGINT)', 130));
process.on('SIGTERM', () => abort('terminated (SIGTERM)', 143));

// ---------------------------------------------------------------------------------------------
// Fake upstream

class FakeUpstream {
  private constructor(
    readonly proc: Managed,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeUpstream> {
    const child = fork(path.join(__dirname, 'fake-upstream.js'), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const proc = track(new Managed('fake upstream', child));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake upstream did not start in 10 s\n${proc.output()}`)), 10_000);
      child.on('message', (m: FakeUpstreamMessage) => {
        if (m.type === 'listening' && m.port) {
          clearTimeout(timer);
          resolve(m.port);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`fake upstream ${proc.describeExit()}\n${proc.output()}`));
      });
    });
    return new FakeUpstream(proc, port);
  }

  get baseUrl(): string {
    return `http://${LOOPBACK}:${this.port}/v1`;
  }

  /** Completions the upstream has served so far. */
  served(): Promise<number> {
    const child = this.proc.child;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake upstream did not answer a stats request')), 5000);
      const onMessage = (m: FakeUpstreamMessage) => {
        if (m.type !== 'stats') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m.served ?? 0);
      };
      child.on('message', onMessage);
      child.send({ type: 'stats' });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring one target

/** One request before the load: proves the target answers correctly, with a useful error if not. */
async function probe(url: string, body: string, streaming: boolean): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: HEADERS, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const fail = (why: string) => new Error(`probe ${url}: ${why}; HTTP ${res.status}, body: ${text.slice(0, 400)}`);
  if (res.status !== 200) throw fail('expected 200');
  if (streaming) {
    if (!text.includes('data: [DONE]')) throw fail('stream did not end with data: [DONE]');
    return;
  }
  let parsed: { choices?: Array<{ message?: { content?: unknown } }> };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('response is not JSON');
  }
  if (typeof parsed.choices?.[0]?.message?.content !== 'string') throw fail('no choices[0].message.content');
}

async function measure(target: string, url: string, upstream: FakeUpstream, streaming = false): Promise<TargetResult> {
  if (aborting) throw new Error(abortReason);
  const body = streaming ? STREAM_BODY : CHAT_BODY;
  log(`- ${target}: ${url}${streaming ? ' (stream)' : ''} — warm-up ${WARMUP} s, measuring ${DURATION} s, ${CONNECTIONS} connections`);
  await probe(url, body, streaming);
  const spec = { url, headers: HEADERS, body, connections: CONNECTIONS };
  const warm = WARMUP > 0 ? await runLoad({ ...spec, durationSeconds: WARMUP }) : undefined;
  const before = await upstream.served();
  const r = await runLoad({ ...spec, durationSeconds: DURATION });
  if (aborting) throw new Error(abortReason);
  const after = await upstream.served();
  log(`    ${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, non-2xx ${r.non2xx}`);
  return {
    target,
    url,
    streaming,
    ...r,
    warmup: warm ? { requests: warm.requests, errors: warm.errors, non2xx: warm.non2xx, status_codes: warm.status_codes } : null,
    upstream_served: after - before,
  };
}

function problemsOf(r: TargetResult): string[] {
  const problems: string[] = [];
  const codes = (c: Record<string, number>) =>
    Object.entries(c)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, n]) => `${n}× ${code}`)
      .join(', ');
  if (r.errors > 0) problems.push(`${r.errors} request errors (${r.timeouts} timeouts)`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (${codes(r.status_codes)})`);
  if (r.warmup && r.warmup.errors > 0) problems.push(`${r.warmup.errors} request errors during warm-up`);
  if (r.warmup && r.warmup.non2xx > 0) problems.push(`${r.warmup.non2xx} non-2xx responses during warm-up (${codes(r.warmup.status_codes)})`);
  if (r.ok_2xx === 0) problems.push('no successful responses');
  if (r.upstream_served < r.ok_2xx) problems.push(`only ${r.upstream_served} of ${r.ok_2xx} 2xx responses reached the fake upstream`);
  return problems.map((p) => `${r.target}${r.streaming ? ' (stream)' : ''}: ${p}`);
}

// ---------------------------------------------------------------------------------------------
// Targets

async function startEnvoyAlone(bin: string, upstreamPort: number): Promise<{ proc: Managed; url: string }> {
  const [listenPort, adminPort] = await freePorts(2);
  const file = path.join(tmpDir!, 'envoy-alone.json');
  fs.writeFileSync(file, JSON.stringify(envoyAloneBootstrap({ listenPort, adminPort, upstreamPort }), null, 2));
  const proc = track(startProcess('envoy alone', bin, ['-c', file, '--log-level', 'error', '--concurrency', '2', '--disable-hot-restart']));
  await waitForHttp(`http://${LOOPBACK}:${adminPort}/ready`, proc, 30_000);
  return { proc, url: `http://${LOOPBACK}:${listenPort}/v1/chat/completions` };
}

async function startGateway(upstream: FakeUpstream): Promise<{ proc: Managed; url: string; envoyAdmin: string }> {
  const [httpPort, envoyAdmin, grpcPort, adminPort] = await freePorts(4);
  const config = {
    server: { listen_address: LOOPBACK, http_port: httpPort, shutdown_grace_seconds: 1 },
    envoy: {
      admin_address: LOOPBACK,
      admin_port: envoyAdmin,
      bootstrap_path: path.join(tmpDir!, 'envoy.yaml'),
      log_level: 'error',
      concurrency: 2,
    },
    processor: { listen_address: LOOPBACK, advertise_address: LOOPBACK, grpc_port: grpcPort, admin_port: adminPort },
    logging: { level: GATEWAY_LOG_LEVEL },
    demo: { echo: { enabled: false } },
    providers: [{ name: PROVIDER, type: 'openai-compatible', base_url: upstream.baseUrl, models: ['fake-*'] }],
    store: { data_dir: path.join(tmpDir!, 'data') },
    keys: { entries: { [API_KEY]: { name: 'bench' } } },
    // The full default chain, with the hourly quota off: the bench sends far more than 100 requests.
    plugins: [
      { use: 'request-validation' },
      { use: 'virtual-keys' },
      { use: 'langchain' },
      { use: 'quota', options: { enabled: false } },
      { use: 'model-router' },
      { use: 'usage-recorder' },
    ],
  };
  const file = path.join(tmpDir!, 'gateway.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const proc = track(startProcess('gateway', process.execPath, [GATEWAY_CLI, 'start', '-c', file], { cwd: tmpDir }));
  // "gateway ready" is logged at info; with a quieter level, Envoy's admin /ready is the signal
  // (the processor is up before the gateway starts Envoy).
  const readyLine = new Promise<void>((resolve) => proc.onLine((l) => l.includes('"msg":"gateway ready"') && resolve()));
  const envoyReady = waitForHttp(`http://${LOOPBACK}:${envoyAdmin}/ready`, proc, 60_000);
  envoyReady.catch(() => undefined); // still observed by the race below
  await Promise.race([readyLine, envoyReady]);
  return { proc, url: `http://${LOOPBACK}:${httpPort}/v1/chat/completions`, envoyAdmin: `http://${LOOPBACK}:${envoyAdmin}` };
}

/** Counters from the gateway's Envoy that explain failures on the ext_proc side, if any. */
const GATEWAY_STATS = [
  'http.gateway.ext_proc.streams_started',
  'http.gateway.ext_proc.streams_failed',
  'http.gateway.ext_proc.message_timeouts',
  'cluster.gateway_processor.upstream_cx_total',
  'cluster.gateway_processor.upstream_cx_protocol_error',
  'cluster.gateway_processor.upstream_rq_tx_reset',
  `cluster.${clusterNameFor(PROVIDER)}.upstream_rq_5xx`,
];

async function gatewayEnvoyStats(adminUrl: string): Promise<Record<string, number>> {
  try {
    const res = await fetch(`${adminUrl}/stats?format=json`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { stats?: Array<{ name?: string; value?: number }> };
    const wanted = new Set(GATEWAY_STATS);
    return Object.fromEntries((body.stats ?? []).filter((s) => s.name && wanted.has(s.name) && typeof s.value === 'number').map((s) => [s.name!, s.value!]));
  } catch {
    return {};
  }
}

function envoyMemoryOf(gatewayPid: number | undefined): MemoryReading | undefined {
  const envoy = childrenOf(gatewayPid).find((c) => c.comm.startsWith('envoy'));
  return envoy ? memoryOf(envoy.pid) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)}` : 'n/a');

function table(rows: TargetResult[]): string {
  const header = ['target', 'rps', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'];
  const body = rows.map((r) => [
    r.target + (r.streaming ? ' (stream)' : ''),
    fmt(r.rps, 1),
    fmt(r.p50_ms),
    fmt(r.p99_ms),
    String(r.errors),
    String(r.non2xx),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

interface Added {
  p50_ms: number;
  p99_ms: number;
}
const added = (a: TargetResult, b: TargetResult): Added => ({
  p50_ms: Math.round((a.p50_ms - b.p50_ms) * 100) / 100,
  p99_ms: Math.round((a.p99_ms - b.p99_ms) * 100) / 100,
});

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const watchdog = setTimeout(() => abort(`did not finish within ${TIMEOUT_S} s (BENCH_TIMEOUT)`, 1), TIMEOUT_S * 1000);
  const started = new Date();
  const results: TargetResult[] = [];
  const memory: Record<string, MemoryReading | undefined> = {};
  let envoyVersion: string | undefined;
  let error: string | undefined;
  let gatewayStats: Record<string, number> = {};
  try {
    if (!fs.existsSync(GATEWAY_CLI)) throw new Error(`${GATEWAY_CLI} not found; run \`npm run build\` first`);
    const envoy = findEnvoy();
    envoyVersion = envoy.version;
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-bench-'));
    log(
      `llm-gateway bench: ${DURATION} s per target after ${WARMUP} s warm-up, ${CONNECTIONS} connections, ` +
        `Envoy ${envoy.version}, Node ${process.version}, ${os.cpus().length} CPUs`,
    );

    const upstream = await FakeUpstream.start();
    const direct = `${upstream.baseUrl}/chat/completions`;
    results.push(await measure('direct', direct, upstream));

    const alone = await startEnvoyAlone(envoy.bin, upstream.port);
    results.push(await measure('envoy alone', alone.url, upstream));
    memory.envoy_alone = memoryOf(alone.proc.pid);
    await stopProcess(alone.proc);

    const gateway = await startGateway(upstream);
    memory.gateway_idle = memoryOf(gateway.proc.pid);
    results.push(await measure('gateway', gateway.url, upstream));
    if (STREAM) {
      results.push(await measure('direct', direct, upstream, true));
      results.push(await measure('gateway', gateway.url, upstream, true));
    }
    memory.gateway_after = memoryOf(gateway.proc.pid);
    memory.gateway_envoy_after = envoyMemoryOf(gateway.proc.pid);
    gatewayStats = await gatewayEnvoyStats(gateway.envoyAdmin);
    await stopProcess(gateway.proc);
  } catch (err) {
    error = aborting ? abortReason : (err as Error).message;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  const find = (target: string, streaming = false) => results.find((r) => r.target === target && r.streaming === streaming);
  const [direct, alone, gateway] = [find('direct'), find('envoy alone'), find('gateway')];
  const [directStream, gatewayStream] = [find('direct', true), find('gateway', true)];
  const addedLatency = {
    vs_direct: gateway && direct ? added(gateway, direct) : null,
    vs_envoy_alone: gateway && alone ? added(gateway, alone) : null,
    envoy_alone_vs_direct: alone && direct ? added(alone, direct) : null,
    stream_vs_direct: gatewayStream && directStream ? added(gatewayStream, directStream) : null,
  };

  if (results.length) {
    log('');
    log(table(results));
    log('');
    const a = addedLatency;
    if (a.vs_direct) log(`gateway added latency: p50 ${signed(a.vs_direct.p50_ms)} ms, p99 ${signed(a.vs_direct.p99_ms)} ms vs direct`);
    if (a.vs_envoy_alone) log(`gateway added latency: p50 ${signed(a.vs_envoy_alone.p50_ms)} ms, p99 ${signed(a.vs_envoy_alone.p99_ms)} ms vs Envoy alone`);
    if (a.envoy_alone_vs_direct) log(`(Envoy alone: p50 ${signed(a.envoy_alone_vs_direct.p50_ms)} ms, p99 ${signed(a.envoy_alone_vs_direct.p99_ms)} ms vs direct)`);
    if (a.stream_vs_direct) log(`streaming through the gateway: p50 ${signed(a.stream_vs_direct.p50_ms)} ms, p99 ${signed(a.stream_vs_direct.p99_ms)} ms vs direct (time to last byte)`);
    const m = (r: MemoryReading | undefined) => (r ? `${fmt(r.rss_mb, 1)} MiB` : 'n/a');
    if (memory.gateway_after || memory.gateway_idle) {
      log(
        `gateway processor memory (node RSS): ${m(memory.gateway_after)} after the run ` +
          `(${m(memory.gateway_idle)} idle before it, peak ${memory.gateway_after ? fmt(memory.gateway_after.peak_rss_mb, 1) : 'n/a'} MiB); ` +
          `its Envoy: ${m(memory.gateway_envoy_after)}; Envoy alone: ${m(memory.envoy_alone)}`,
      );
    }
  }

  const gatewayFailed = results.some((r) => r.target === 'gateway' && (r.non2xx > 0 || r.errors > 0 || (r.warmup?.non2xx ?? 0) > 0));
  if (gatewayFailed && Object.keys(gatewayStats).length) {
    log(`gateway Envoy counters: ${Object.entries(gatewayStats).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }

  const failures = results.flatMap(problemsOf);
  if (error) failures.unshift(`run aborted: ${error}`);
  const ok = failures.length === 0;

  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        ok,
        failures,
        started: started.toISOString(),
        finished: new Date().toISOString(),
        settings: { duration_s: DURATION, warmup_s: WARMUP, connections: CONNECTIONS, streaming: STREAM, gateway_log_level: GATEWAY_LOG_LEVEL },
        environment: {
          node: process.version,
          envoy: envoyVersion ?? null,
          cpus: os.cpus().length,
          cpu_model: os.cpus()[0]?.model ?? null,
          platform: `${os.platform()} ${os.release()}`,
        },
        targets: results,
        added_latency_ms: addedLatency,
        memory_mb: memory,
        gateway_envoy_stats: gatewayStats,
      },
      null,
      2,
    )}\n`,
  );
  log(`\nresults written to ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);

  if (!ok) {
    process.stderr.write(`\nbench FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  log('bench OK: no errors, all responses 2xx');
  return 0;
}

main().then(
  (code) => {
    // Exit explicitly: nothing else should hold the event loop, and an abort's timer must not.
    process.exit(aborting ? abortCode : code);
  },
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    void cleanup().finally(() => process.exit(1));
  },
);
