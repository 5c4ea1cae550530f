/**
 * `npm run bench`: what the gateway costs on top of Envoy and on top of no proxy at all.
 *
 * One fake OpenAI upstream, three targets: (a) the upstream directly, (b) Envoy alone (no
 * ext_proc), (c) the full gateway (Envoy + processor + the default plugin chain). Per target:
 * - saturated: autocannon with BENCH_CONNECTIONS connections as fast as they go (JSON; and
 *   streamed for direct and gateway);
 * - fixed rate: BENCH_RATE requests/s evenly spread over BENCH_RATE_CONNECTIONS connections
 *   (Envoy alone and gateway), latency per response;
 * - one request at a time: BENCH_SEQ_REQUESTS sequential requests on one connection;
 * - streaming at the fixed rate: time to the first SSE event, and whether events arrive
 *   coalesced (the fake upstream spaces them by BENCH_EVENT_GAP_MS).
 * Around the gateway's saturated runs it reads CPU time from /proc and Envoy's ext_proc and
 * rate limit counters, for CPU µs and gRPC streams/messages per request; processor RSS is read
 * along the way. Goals from issue 10 are checked in a summary line (PASS/MISS never changes
 * the exit code). Writes bench/results/latest.json and a timestamped copy, and exits non-zero
 * if any request failed or answered non-2xx.
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 2),
 * BENCH_CONNECTIONS (default 16), BENCH_STREAM=0 to skip streaming, BENCH_RATE (default 200),
 * BENCH_RATE_CONNECTIONS (default 4), BENCH_RATE_REQUESTS (default 3000; 0 skips the fixed-rate
 * phases), BENCH_SEQ_REQUESTS (default 500; 0 skips), BENCH_EVENT_GAP_MS (default 1),
 * BENCH_LONG=1 for a memory run of BENCH_LONG_REQUESTS (default 100000) requests,
 * BENCH_WORKERS (e.g. "1,2": saturated runs with `processor.workers`, if the config has it),
 * BENCH_GATEWAY_LOG_LEVEL (default warn), BENCH_TIMEOUT (s, overall limit; default derived
 * from the above), ENVOY_BIN (as for the gateway).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_PLUGINS } from '../src/config/defaults';
import { gatewayConfigSchema } from '../src/config/schema';
import { findEnvoy } from '../src/envoy/supervisor';
import { clusterNameFor } from '../src/control/provider-registry';
import { envoyAloneBootstrap } from './envoy-alone';
import type { FakeUpstreamMessage } from './fake-upstream';
import { runLoad, stopLoad, type LoadResult } from './load';
import { runPaced, stopPaced, type PacedResult } from './paced';
import {
  LOOPBACK,
  Managed,
  childrenOf,
  cpuSecondsOf,
  descendantsOf,
  freePorts,
  memoryOf,
  startProcess,
  waitForHttp,
  type MemoryReading,
} from './procs';

const ROOT = path.resolve(__dirname, '..', '..');
const GATEWAY_CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
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

function envList(name: string): number[] {
  const raw = process.env[name]?.trim();
  if (!raw) return [];
  return raw.split(',').map((s) => {
    const v = Number(s.trim());
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name}=${raw}: "${s}" is not a whole number >= 1`);
    return v;
  });
}

const DURATION = envNumber('BENCH_DURATION', 10, 1);
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 16, 1));
const STREAM = process.env.BENCH_STREAM !== '0';
const RATE = envNumber('BENCH_RATE', 200, 1);
const RATE_CONNECTIONS = Math.floor(envNumber('BENCH_RATE_CONNECTIONS', 4, 1));
const RATE_REQUESTS = Math.floor(envNumber('BENCH_RATE_REQUESTS', 3000, 0));
const SEQ_REQUESTS = Math.floor(envNumber('BENCH_SEQ_REQUESTS', 500, 0));
const SEQ_WARMUP = Math.min(50, SEQ_REQUESTS);
const EVENT_GAP_MS = envNumber('BENCH_EVENT_GAP_MS', 1, 0);
const LONG = process.env.BENCH_LONG === '1';
const LONG_REQUESTS = Math.floor(envNumber('BENCH_LONG_REQUESTS', 100_000, 1000));
const WORKERS = envList('BENCH_WORKERS');
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL || 'warn';

const SATURATED_RUNS = 3 + (STREAM ? 2 : 0) + WORKERS.length;
const PACED_SECONDS =
  (RATE_REQUESTS > 0 ? (2 + (STREAM ? 3 : 0)) * (RATE_REQUESTS / RATE + 10) : 0) + (SEQ_REQUESTS > 0 ? 3 * ((SEQ_WARMUP + SEQ_REQUESTS) * 0.02 + 10) : 0);
// The long run at a pessimistic 200 requests/s.
const LONG_SECONDS = LONG ? LONG_REQUESTS / 200 + 60 : 0;
const TIMEOUT_S = envNumber('BENCH_TIMEOUT', Math.ceil(SATURATED_RUNS * (WARMUP + DURATION + 15) + PACED_SECONDS + LONG_SECONDS + 120), 10);

/** Issue 10's targets. */
const TARGETS = {
  rps_ratio_min: 0.35,
  added_p50_at_rate_max_ms: 2,
  p99_over_p50_at_rate_max: 3,
  added_p50_sequential_max_ms: 1,
  added_ttfb_p50_at_rate_max_ms: 1,
  rss_after_saturated_max_mib: 120,
  rss_growth_max_percent: 5,
  rss_growth_requests: 100_000,
};

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

type PacedPhase = 'fixed-rate' | 'sequential' | 'stream-ttfb';

interface PacedTargetResult extends PacedResult {
  target: string;
  phase: PacedPhase;
  url: string;
  streaming: boolean;
  connections: number;
  /** Asked rate over all connections; 0 = back to back. */
  rate: number;
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
    stopPaced();
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

/** The fake upstream's pid, once started: its CPU and the bench's own (the load generator) are the clients' share. */
let upstreamPid: number | undefined;

/** CPU seconds of what is not under test: this process (autocannon runs in it) and the fake upstream. */
function clientsCpu(): number | undefined {
  const self = cpuSecondsOf(process.pid);
  const up = cpuSecondsOf(upstreamPid);
  return self === undefined || up === undefined ? undefined : self + up;
}

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
    upstreamPid = child.pid;
    return new FakeUpstream(proc, port);
  }

  get baseUrl(): string {
    return `http://${LOOPBACK}:${this.port}/v1`;
  }

  private ask(msg: object, reply: FakeUpstreamMessage['type']): Promise<FakeUpstreamMessage> {
    const child = this.proc.child;
    return new Promise<FakeUpstreamMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake upstream did not answer a ${reply} request`)), 5000);
      const onMessage = (m: FakeUpstreamMessage) => {
        if (m.type !== reply) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send(msg);
    });
  }

  /** Completions the upstream has served so far. */
  async served(): Promise<number> {
    return (await this.ask({ type: 'stats' }, 'stats')).served ?? 0;
  }

  /** Spaces SSE events by `ms` (0: one event-loop turn, as in the saturated runs). */
  async setEventGap(ms: number): Promise<void> {
    await this.ask({ type: 'config', eventGapMs: ms }, 'config');
  }
}

// ---------------------------------------------------------------------------------------------
// CPU time and Envoy counters around a run

/** Reads CPU seconds and Envoy counters of one target. */
interface Sampler {
  cpu(): Record<string, number | undefined>;
  memory?: () => MemoryReading | undefined;
  adminUrl: string;
  /** The Envoy counter of requests its listener received, the per-request denominator. */
  requestsStat: string;
}

interface Sample {
  cpu: Record<string, number | undefined>;
  memory?: MemoryReading;
  stats: Record<string, number>;
}

interface RunWindow {
  /** Requests in the window, as Envoy's listener counted them (falls back to the client's count). */
  requests: number;
  cpu_us_per_request: Record<string, number | null>;
  stats_delta: Record<string, number>;
}

// ext_proc (listener and per-attempt), rate limit decisions, requests and gRPC requests to the processor.
const COUNTERS = /(\.ext_proc\.[a-z_]+|\.ratelimit\.[a-z_]+|\.downstream_rq_total|\.downstream_rq_2xx|^cluster\.gateway_(processor|ext_proc)\.upstream_rq_total)$/;

async function envoyCounters(adminUrl: string, wanted: (name: string) => boolean): Promise<Record<string, number>> {
  try {
    const res = await fetch(`${adminUrl}/stats?format=json`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { stats?: Array<{ name?: string; value?: unknown }> };
    return Object.fromEntries(
      (body.stats ?? []).filter((s) => s.name && typeof s.value === 'number' && wanted(s.name)).map((s) => [s.name!, s.value as number]),
    );
  } catch {
    return {};
  }
}

async function sample(s: Sampler): Promise<Sample> {
  return { cpu: s.cpu(), memory: s.memory?.(), stats: await envoyCounters(s.adminUrl, (n) => COUNTERS.test(n)) };
}

function windowOf(s: Sampler, before: Sample, after: Sample, clientRequests: number): RunWindow {
  const stats_delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.stats)) {
    const d = v - (before.stats[k] ?? 0);
    if (d !== 0) stats_delta[k] = d;
  }
  const counted = stats_delta[s.requestsStat];
  const requests = counted && counted > 0 ? counted : clientRequests;
  const cpu_us_per_request: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(after.cpu)) {
    const b = before.cpu[k];
    cpu_us_per_request[k] = v !== undefined && b !== undefined && requests > 0 ? Math.round(((v - b) * 1e6) / requests) : null;
  }
  return { requests, cpu_us_per_request, stats_delta };
}

interface GrpcPerRequest {
  requests: number;
  ext_proc_streams: number;
  ext_proc_streams_listener: number;
  ext_proc_streams_per_attempt: number;
  /** Both directions; null if Envoy exposes no message counters. */
  ext_proc_messages: number | null;
  ext_proc_messages_to_processor: number | null;
  ext_proc_messages_from_processor: number | null;
  /** Rate limit service calls (one unary gRPC stream, two messages, each). */
  ratelimit_calls: number;
  /** Every gRPC stream Envoy opened to the processor cluster: ext_proc and rate limit calls. */
  processor_cluster_streams: number | null;
  /** ext_proc messages plus two per rate limit call. */
  grpc_messages: number | null;
}

function grpcPerRequest(w: RunWindow): GrpcPerRequest {
  const d = w.stats_delta;
  const sum = (re: RegExp) => Object.entries(d).reduce((a, [k, v]) => (re.test(k) ? a + v : a), 0);
  const per = (v: number) => Math.round((v / w.requests) * 1000) / 1000;
  const hasMessages = Object.keys(d).some((k) => /\.ext_proc\.stream_msgs_(sent|received)$/.test(k));
  const listener = sum(/^http\.gateway\.ext_proc\.streams_started$/);
  const perAttempt = sum(/^cluster\.[^.]+\.ext_proc\.streams_started$/);
  // Envoy's counters are named from its side: "sent" goes to the processor.
  const toProcessor = sum(/\.ext_proc\.stream_msgs_sent$/);
  const fromProcessor = sum(/\.ext_proc\.stream_msgs_received$/);
  const rlCalls = sum(/\.ratelimit\.(ok|over_limit|error)$/);
  // ext_proc goes to its own cluster when there are processor workers.
  const streamsOf = (c: string) => d[`cluster.${c}.upstream_rq_total`];
  const clusterStreams = streamsOf('gateway_processor') === undefined && streamsOf('gateway_ext_proc') === undefined ? undefined : (streamsOf('gateway_processor') ?? 0) + (streamsOf('gateway_ext_proc') ?? 0);
  return {
    requests: w.requests,
    ext_proc_streams: per(listener + perAttempt),
    ext_proc_streams_listener: per(listener),
    ext_proc_streams_per_attempt: per(perAttempt),
    ext_proc_messages: hasMessages ? per(toProcessor + fromProcessor) : null,
    ext_proc_messages_to_processor: hasMessages ? per(toProcessor) : null,
    ext_proc_messages_from_processor: hasMessages ? per(fromProcessor) : null,
    ratelimit_calls: per(rlCalls),
    processor_cluster_streams: clusterStreams === undefined ? null : per(clusterStreams),
    grpc_messages: hasMessages ? per(toProcessor + fromProcessor + 2 * rlCalls) : null,
  };
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

/** Saturated load: warm-up, then the measured run; `sampler` is read around the measured run only. */
async function measure(
  target: string,
  url: string,
  upstream: FakeUpstream,
  opts: { streaming?: boolean; sampler?: Sampler } = {},
): Promise<{ result: TargetResult; window?: RunWindow; before?: Sample }> {
  if (aborting) throw new Error(abortReason);
  const streaming = opts.streaming ?? false;
  const body = streaming ? STREAM_BODY : CHAT_BODY;
  log(`- ${target}: ${url}${streaming ? ' (stream)' : ''} — warm-up ${WARMUP} s, measuring ${DURATION} s, ${CONNECTIONS} connections`);
  await probe(url, body, streaming);
  const spec = { url, headers: HEADERS, body, connections: CONNECTIONS };
  const warm = WARMUP > 0 ? await runLoad({ ...spec, durationSeconds: WARMUP }) : undefined;
  const before = await upstream.served();
  const s0 = opts.sampler ? await sample(opts.sampler) : undefined;
  const r = await runLoad({ ...spec, durationSeconds: DURATION });
  if (aborting) throw new Error(abortReason);
  const s1 = opts.sampler ? await sample(opts.sampler) : undefined;
  const after = await upstream.served();
  log(`    ${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, non-2xx ${r.non2xx}`);
  return {
    result: {
      target,
      url,
      streaming,
      ...r,
      warmup: warm ? { requests: warm.requests, errors: warm.errors, non2xx: warm.non2xx, status_codes: warm.status_codes } : null,
      upstream_served: after - before,
    },
    window: opts.sampler && s0 && s1 ? windowOf(opts.sampler, s0, s1, r.requests) : undefined,
    before: s0,
  };
}

/** A fixed-rate, sequential or streaming-latency phase (bench/paced.ts). */
async function measurePaced(target: string, phase: PacedPhase, url: string, upstream: FakeUpstream): Promise<PacedTargetResult> {
  if (aborting) throw new Error(abortReason);
  const streaming = phase === 'stream-ttfb';
  const body = streaming ? STREAM_BODY : CHAT_BODY;
  const sequential = phase === 'sequential';
  const connections = sequential ? 1 : RATE_CONNECTIONS;
  const rate = sequential ? 0 : RATE;
  const requests = sequential ? SEQ_REQUESTS : RATE_REQUESTS;
  const what = sequential
    ? `${SEQ_REQUESTS} sequential requests on 1 connection after ${SEQ_WARMUP}`
    : `${requests} requests at ${RATE} req/s over ${connections} connections${streaming ? `, time to first event, events ${EVENT_GAP_MS} ms apart` : ''}`;
  log(`- ${target}: ${url}${streaming ? ' (stream)' : ''} — ${what}`);
  await probe(url, body, streaming);
  const spec = { url, headers: HEADERS, body, connections, rate, streaming };
  if (sequential && SEQ_WARMUP > 0) await runPaced({ ...spec, requests: SEQ_WARMUP });
  if (streaming) await upstream.setEventGap(EVENT_GAP_MS);
  const before = await upstream.served();
  const r = await runPaced({ ...spec, requests });
  if (aborting) throw new Error(abortReason);
  const after = await upstream.served();
  if (streaming) await upstream.setEventGap(0);
  const extra = r.stream ? `, coalesced events ${r.stream.coalesced_events}/${r.stream.events}, incomplete ${r.stream.incomplete}` : '';
  log(`    ${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, non-2xx ${r.non2xx}${extra}`);
  return { target, phase, url, streaming, connections, rate, ...r, upstream_served: after - before };
}

const statusList = (c: Record<string, number>) =>
  Object.entries(c)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}× ${code}`)
    .join(', ');

function problemsOf(r: TargetResult): string[] {
  const problems: string[] = [];
  if (r.errors > 0) problems.push(`${r.errors} request errors (${r.timeouts} timeouts)`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (${statusList(r.status_codes)})`);
  if (r.warmup && r.warmup.errors > 0) problems.push(`${r.warmup.errors} request errors during warm-up`);
  if (r.warmup && r.warmup.non2xx > 0) problems.push(`${r.warmup.non2xx} non-2xx responses during warm-up (${statusList(r.warmup.status_codes)})`);
  if (r.ok_2xx === 0) problems.push('no successful responses');
  if (r.upstream_served < r.ok_2xx) problems.push(`only ${r.upstream_served} of ${r.ok_2xx} 2xx responses reached the fake upstream`);
  return problems.map((p) => `${r.target}${r.streaming ? ' (stream)' : ''}: ${p}`);
}

function pacedProblemsOf(r: PacedTargetResult): string[] {
  const problems: string[] = [];
  if (r.errors > 0) problems.push(`${r.errors} request errors`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (${statusList(r.status_codes)})`);
  if (r.stream && r.stream.incomplete > 0) problems.push(`${r.stream.incomplete} streams ended without data: [DONE]`);
  if (r.ok_2xx === 0) problems.push('no successful responses');
  if (r.upstream_served < r.ok_2xx) problems.push(`only ${r.upstream_served} of ${r.ok_2xx} 2xx responses reached the fake upstream`);
  return problems.map((p) => `${r.target} (${r.phase}): ${p}`);
}

// ---------------------------------------------------------------------------------------------
// Targets

async function startEnvoyAlone(bin: string, upstreamPort: number): Promise<{ proc: Managed; url: string; sampler: Sampler }> {
  const [listenPort, adminPort] = await freePorts(2);
  const file = path.join(tmpDir!, 'envoy-alone.json');
  fs.writeFileSync(file, JSON.stringify(envoyAloneBootstrap({ listenPort, adminPort, upstreamPort }), null, 2));
  const proc = track(startProcess('envoy alone', bin, ['-c', file, '--log-level', 'error', '--concurrency', '2', '--disable-hot-restart']));
  const adminUrl = `http://${LOOPBACK}:${adminPort}`;
  await waitForHttp(`${adminUrl}/ready`, proc, 30_000);
  const sampler: Sampler = { adminUrl, requestsStat: 'http.bench.downstream_rq_total', cpu: () => ({ envoy: cpuSecondsOf(proc.pid), clients: clientsCpu() }) };
  return { proc, url: `http://${LOOPBACK}:${listenPort}/v1/chat/completions`, sampler };
}

/** Is `processor.workers` in the config schema? (Kept as a check: the bench also runs older trees.) */
function schemaHasWorkers(): boolean {
  const processor = (gatewayConfigSchema as unknown as { properties?: { processor?: { properties?: Record<string, unknown> } } }).properties?.processor;
  return !!processor?.properties && Object.prototype.hasOwnProperty.call(processor.properties, 'workers');
}

const isEnvoy = (comm: string) => comm.startsWith('envoy');

/** The processor: the gateway's node process plus any worker processes below it (not Envoy). */
function processorPids(gatewayPid: number | undefined): number[] {
  if (!gatewayPid) return [];
  return [gatewayPid, ...descendantsOf(gatewayPid).filter((p) => !isEnvoy(p.comm)).map((p) => p.pid)];
}

function sumCpu(pids: number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const v = cpuSecondsOf(pid);
    if (v === undefined) return undefined;
    total += v;
  }
  return pids.length ? total : undefined;
}

function processorMemory(gatewayPid: number | undefined): MemoryReading | undefined {
  const readings = processorPids(gatewayPid).map(memoryOf);
  if (!readings.length || readings.some((r) => !r)) return undefined;
  const sum = (f: (r: MemoryReading) => number) => Math.round(readings.reduce((a, r) => a + f(r!), 0) * 10) / 10;
  return { rss_mb: sum((r) => r.rss_mb), peak_rss_mb: sum((r) => r.peak_rss_mb) };
}

function envoyMemoryOf(gatewayPid: number | undefined): MemoryReading | undefined {
  const envoy = childrenOf(gatewayPid).find((c) => isEnvoy(c.comm));
  return envoy ? memoryOf(envoy.pid) : undefined;
}

interface Gateway {
  proc: Managed;
  url: string;
  envoyAdmin: string;
  sampler: Sampler;
}

async function startGateway(upstream: FakeUpstream, workers?: number): Promise<Gateway> {
  const [httpPort, envoyAdmin, grpcPort, adminPort, extProcPort] = await freePorts(5);
  const config = {
    server: { listen_address: LOOPBACK, http_port: httpPort, shutdown_grace_seconds: 1 },
    envoy: {
      admin_address: LOOPBACK,
      admin_port: envoyAdmin,
      bootstrap_path: path.join(tmpDir!, 'envoy.yaml'),
      log_level: 'error',
      concurrency: 2,
    },
    processor: {
      listen_address: LOOPBACK,
      advertise_address: LOOPBACK,
      grpc_port: grpcPort,
      admin_port: adminPort,
      ...(workers !== undefined ? { workers, ext_proc_port: extProcPort } : {}),
    },
    logging: { level: GATEWAY_LOG_LEVEL },
    demo: { echo: { enabled: false } },
    providers: [{ name: PROVIDER, type: 'openai-compatible', base_url: upstream.baseUrl, models: ['fake-*'] }],
    store: { data_dir: path.join(tmpDir!, 'data') },
    keys: { entries: { [API_KEY]: { name: 'bench' } } },
    // The default chain as shipped, with the hourly quota off: the bench sends far more than 100 requests.
    plugins: DEFAULT_PLUGINS.map((p) => (p.use === 'quota' ? { ...p, options: { enabled: false } } : { ...p })),
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
  const adminUrl = `http://${LOOPBACK}:${envoyAdmin}`;
  const sampler: Sampler = {
    adminUrl,
    requestsStat: 'http.gateway.downstream_rq_total',
    cpu: () => ({
      processor: sumCpu(processorPids(proc.pid)),
      envoy: sumCpu(descendantsOf(proc.pid).filter((p) => isEnvoy(p.comm)).map((p) => p.pid)),
      clients: clientsCpu(),
    }),
    memory: () => processorMemory(proc.pid),
  };
  return { proc, url: `http://${LOOPBACK}:${httpPort}/v1/chat/completions`, envoyAdmin: adminUrl, sampler };
}

/** Counters from the gateway's Envoy that explain failures on the ext_proc side, if any. */
const GATEWAY_STATS = new Set([
  'http.gateway.ext_proc.streams_started',
  'http.gateway.ext_proc.streams_failed',
  'http.gateway.ext_proc.message_timeouts',
  'cluster.gateway_processor.upstream_cx_total',
  'cluster.gateway_processor.upstream_cx_protocol_error',
  'cluster.gateway_processor.upstream_rq_tx_reset',
  'cluster.gateway_ext_proc.upstream_cx_total',
  'cluster.gateway_ext_proc.upstream_rq_tx_reset',
  `cluster.${clusterNameFor(PROVIDER)}.upstream_rq_5xx`,
]);

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v: number | null | undefined, digits = 2) => (v !== null && v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const signed = (v: number | null | undefined) => (v !== null && v !== undefined && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)}` : 'n/a');
const round2 = (v: number) => Math.round(v * 100) / 100;

function renderTable(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function table(rows: TargetResult[]): string {
  return renderTable(
    ['target', 'rps', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'],
    rows.map((r) => [r.target + (r.streaming ? ' (stream)' : ''), fmt(r.rps, 1), fmt(r.p50_ms), fmt(r.p99_ms), String(r.errors), String(r.non2xx)]),
  );
}

const PHASE_LABEL: Record<PacedPhase, string> = {
  'fixed-rate': 'fixed rate',
  sequential: 'sequential',
  'stream-ttfb': 'stream, first event',
};

function pacedTable(rows: PacedTargetResult[]): string {
  return renderTable(
    ['phase', 'target', 'requests', 'rps', 'p50 ms', 'p90 ms', 'p99 ms', 'p99/p50', 'max ms', 'errors', 'non-2xx'],
    rows.map((r) => [
      PHASE_LABEL[r.phase],
      r.target,
      String(r.requests),
      fmt(r.rps, 1),
      fmt(r.p50_ms),
      fmt(r.p90_ms),
      fmt(r.p99_ms),
      fmt(r.p99_ms / r.p50_ms, 1),
      fmt(r.max_ms),
      String(r.errors),
      String(r.non2xx),
    ]),
  );
}

interface Added {
  p50_ms: number;
  p99_ms: number;
}
const added = (a: { p50_ms: number; p99_ms: number }, b: { p50_ms: number; p99_ms: number }): Added => ({
  p50_ms: round2(a.p50_ms - b.p50_ms),
  p99_ms: round2(a.p99_ms - b.p99_ms),
});

interface Goal {
  name: string;
  value: number | null;
  unit: string;
  target: string;
  /** null: not measured in this run (see note). */
  pass: boolean | null;
  note?: string;
}

const CMP = { '<=': ['≤', (v: number, l: number) => v <= l], '>=': ['≥', (v: number, l: number) => v >= l], '<': ['<', (v: number, l: number) => v < l], '=': ['=', (v: number, l: number) => v === l] } as const;

function goal(name: string, value: number | null | undefined, unit: string, cmp: keyof typeof CMP, limit: number, note?: string): Goal {
  const [symbol, test] = CMP[cmp];
  const target = `${symbol} ${limit}${unit}`;
  if (value === null || value === undefined || !Number.isFinite(value)) return { name, value: null, unit, target, pass: null, note: note ?? 'not measured' };
  const pass = test(value, limit);
  return { name, value, unit, target, pass, ...(note ? { note } : {}) };
}

function summaryLine(goals: Goal[]): string {
  const one = (g: Goal) => {
    const verdict = g.pass === null ? 'n/a' : g.pass ? 'PASS' : 'MISS';
    const value = g.value === null ? 'n/a' : `${g.value}${g.unit}`;
    return `${g.name} ${value} (${g.target} ${verdict}${g.note ? `; ${g.note}` : ''})`;
  };
  return `summary: ${goals.map(one).join(' | ')}`;
}

function grpcLine(label: string, g: GrpcPerRequest, cpu?: Record<string, number | null>): string {
  const messages =
    g.ext_proc_messages === null
      ? 'ext_proc messages n/a (Envoy has no message counters)'
      : `ext_proc messages ${fmt(g.ext_proc_messages)} (to processor ${fmt(g.ext_proc_messages_to_processor)}, back ${fmt(g.ext_proc_messages_from_processor)})`;
  const cpuText = cpu ? `; processor ${fmt(cpu.processor, 0)} µs, its Envoy ${fmt(cpu.envoy, 0)} µs CPU` : '';
  return (
    `${label} (${g.requests} requests): ext_proc streams ${fmt(g.ext_proc_streams)} (listener ${fmt(g.ext_proc_streams_listener)}, ` +
    `per attempt ${fmt(g.ext_proc_streams_per_attempt)}), ${messages}, rate limit calls ${fmt(g.ratelimit_calls)}, ` +
    `gRPC streams to the processor ${fmt(g.processor_cluster_streams)}, gRPC messages ${fmt(g.grpc_messages)}${cpuText}`
  );
}

// ---------------------------------------------------------------------------------------------

interface WorkersRun {
  workers: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  cpu_us_per_request: Record<string, number | null> | null;
}

async function main(): Promise<number> {
  const watchdog = setTimeout(() => abort(`did not finish within ${TIMEOUT_S} s (BENCH_TIMEOUT)`, 1), TIMEOUT_S * 1000);
  const started = new Date();
  const results: TargetResult[] = [];
  const paced: PacedTargetResult[] = [];
  const windows: Record<string, RunWindow> = {};
  const memory: Record<string, MemoryReading | undefined> = {};
  const workersRuns: WorkersRun[] = [];
  const workersResults: TargetResult[] = [];
  const workersNote = WORKERS.length === 0 ? 'BENCH_WORKERS not set' : schemaHasWorkers() ? undefined : 'skipped: processor.workers is not in the config schema yet';
  let rssGrowth: { from_mb: number; to_mb: number; requests: number; percent: number; long_run: boolean } | null = null;
  let envoyVersion: string | undefined;
  let error: string | undefined;
  let gatewayStats: Record<string, number> = {};
  try {
    if (!fs.existsSync(GATEWAY_CLI)) throw new Error(`${GATEWAY_CLI} not found; run \`npm run build\` first`);
    const envoy = findEnvoy();
    envoyVersion = envoy.version;
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-bench-'));
    log(
      `llm-gateway bench: ${DURATION} s per saturated run after ${WARMUP} s warm-up, ${CONNECTIONS} connections; ` +
        `fixed rate: ${RATE_REQUESTS} requests at ${RATE} req/s over ${RATE_CONNECTIONS} connections; ` +
        `Envoy ${envoy.version}, Node ${process.version}, ${os.cpus().length} CPUs`,
    );

    const upstream = await FakeUpstream.start();
    const direct = `${upstream.baseUrl}/chat/completions`;
    results.push((await measure('direct', direct, upstream)).result);
    if (SEQ_REQUESTS > 0) paced.push(await measurePaced('direct', 'sequential', direct, upstream));
    if (STREAM) {
      results.push((await measure('direct', direct, upstream, { streaming: true })).result);
      if (RATE_REQUESTS > 0) paced.push(await measurePaced('direct', 'stream-ttfb', direct, upstream));
    }

    const alone = await startEnvoyAlone(envoy.bin, upstream.port);
    const aloneSat = await measure('envoy alone', alone.url, upstream, { sampler: alone.sampler });
    results.push(aloneSat.result);
    if (aloneSat.window) windows.envoy_alone = aloneSat.window;
    if (RATE_REQUESTS > 0) paced.push(await measurePaced('envoy alone', 'fixed-rate', alone.url, upstream));
    if (SEQ_REQUESTS > 0) paced.push(await measurePaced('envoy alone', 'sequential', alone.url, upstream));
    if (STREAM && RATE_REQUESTS > 0) paced.push(await measurePaced('envoy alone', 'stream-ttfb', alone.url, upstream));
    memory.envoy_alone = memoryOf(alone.proc.pid);
    await stopProcess(alone.proc);

    const gateway = await startGateway(upstream);
    memory.gateway_idle = processorMemory(gateway.proc.pid);
    const gwSat = await measure('gateway', gateway.url, upstream, { sampler: gateway.sampler });
    results.push(gwSat.result);
    if (gwSat.window) windows.gateway = gwSat.window;
    memory.gateway_after_saturated = processorMemory(gateway.proc.pid);
    // RSS growth is counted from the end of the warm-up (heap and JIT settled) on.
    memory.gateway_warm = gwSat.before?.memory;
    const warmRequests = gwSat.before?.stats[gateway.sampler.requestsStat];
    if (RATE_REQUESTS > 0) paced.push(await measurePaced('gateway', 'fixed-rate', gateway.url, upstream));
    if (SEQ_REQUESTS > 0) paced.push(await measurePaced('gateway', 'sequential', gateway.url, upstream));
    if (STREAM) {
      const gwStream = await measure('gateway', gateway.url, upstream, { streaming: true, sampler: gateway.sampler });
      results.push(gwStream.result);
      if (gwStream.window) windows.gateway_stream = gwStream.window;
      if (RATE_REQUESTS > 0) paced.push(await measurePaced('gateway', 'stream-ttfb', gateway.url, upstream));
    }
    memory.gateway_after = processorMemory(gateway.proc.pid);
    memory.gateway_envoy_after = envoyMemoryOf(gateway.proc.pid);
    const endStats = await envoyCounters(gateway.envoyAdmin, (n) => n === gateway.sampler.requestsStat);
    const served = (endStats[gateway.sampler.requestsStat] ?? NaN) - (warmRequests ?? NaN);
    if (memory.gateway_warm && memory.gateway_after && Number.isFinite(served)) {
      const from = memory.gateway_warm.rss_mb;
      const to = memory.gateway_after.rss_mb;
      rssGrowth = { from_mb: from, to_mb: to, requests: served, percent: round2(((to - from) / from) * 100), long_run: false };
    }

    if (LONG) {
      log(`- gateway: ${gateway.url} — long memory run, ${LONG_REQUESTS} requests, ${CONNECTIONS} connections`);
      const s0 = await sample(gateway.sampler);
      const from = s0.memory;
      const before = await upstream.served();
      const r = await runLoad({ url: gateway.url, headers: HEADERS, body: CHAT_BODY, connections: CONNECTIONS, durationSeconds: 0, amount: LONG_REQUESTS });
      if (aborting) throw new Error(abortReason);
      const after = await upstream.served();
      const s1 = await sample(gateway.sampler);
      memory.gateway_after_long = s1.memory;
      log(`    ${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, non-2xx ${r.non2xx}`);
      results.push({ target: 'gateway (long run)', url: gateway.url, streaming: false, ...r, warmup: null, upstream_served: after - before });
      const w = windowOf(gateway.sampler, s0, s1, r.requests);
      windows.gateway_long = w;
      if (from && memory.gateway_after_long) {
        const to = memory.gateway_after_long.rss_mb;
        rssGrowth = { from_mb: from.rss_mb, to_mb: to, requests: w.requests, percent: round2(((to - from.rss_mb) / from.rss_mb) * 100), long_run: true };
      }
    }
    gatewayStats = await envoyCounters(gateway.envoyAdmin, (n) => GATEWAY_STATS.has(n));
    await stopProcess(gateway.proc);

    if (WORKERS.length > 0 && workersNote) {
      log(`- BENCH_WORKERS=${WORKERS.join(',')}: ${workersNote}`);
    } else if (WORKERS.length > 0) {
      for (const n of WORKERS) {
        const gw = await startGateway(upstream, n);
        const run = await measure(`gateway, ${n} workers`, gw.url, upstream, { sampler: gw.sampler });
        workersResults.push(run.result);
        workersRuns.push({ workers: n, rps: run.result.rps, p50_ms: run.result.p50_ms, p99_ms: run.result.p99_ms, cpu_us_per_request: run.window?.cpu_us_per_request ?? null });
        await stopProcess(gw.proc);
      }
    }
  } catch (err) {
    error = aborting ? abortReason : (err as Error).message;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  const find = (target: string, streaming = false) => results.find((r) => r.target === target && r.streaming === streaming);
  const findPaced = (target: string, phase: PacedPhase) => paced.find((r) => r.target === target && r.phase === phase);
  const [direct, alone, gateway] = [find('direct'), find('envoy alone'), find('gateway')];
  const [directStream, gatewayStream] = [find('direct', true), find('gateway', true)];
  const [aloneRate, gatewayRate] = [findPaced('envoy alone', 'fixed-rate'), findPaced('gateway', 'fixed-rate')];
  const [directSeq, aloneSeq, gatewaySeq] = [findPaced('direct', 'sequential'), findPaced('envoy alone', 'sequential'), findPaced('gateway', 'sequential')];
  const [directTtfb, aloneTtfb, gatewayTtfb] = [findPaced('direct', 'stream-ttfb'), findPaced('envoy alone', 'stream-ttfb'), findPaced('gateway', 'stream-ttfb')];
  const addedLatency = {
    vs_direct: gateway && direct ? added(gateway, direct) : null,
    vs_envoy_alone: gateway && alone ? added(gateway, alone) : null,
    envoy_alone_vs_direct: alone && direct ? added(alone, direct) : null,
    stream_vs_direct: gatewayStream && directStream ? added(gatewayStream, directStream) : null,
    at_rate_vs_envoy_alone: gatewayRate && aloneRate ? added(gatewayRate, aloneRate) : null,
    sequential_vs_envoy_alone: gatewaySeq && aloneSeq ? added(gatewaySeq, aloneSeq) : null,
    first_event_at_rate_vs_envoy_alone: gatewayTtfb && aloneTtfb ? added(gatewayTtfb, aloneTtfb) : null,
  };
  const grpc = {
    saturated: windows.gateway ? grpcPerRequest(windows.gateway) : null,
    stream: windows.gateway_stream ? grpcPerRequest(windows.gateway_stream) : null,
  };
  const cpuUs = {
    gateway_processor: windows.gateway?.cpu_us_per_request.processor ?? null,
    gateway_envoy: windows.gateway?.cpu_us_per_request.envoy ?? null,
    envoy_alone: windows.envoy_alone?.cpu_us_per_request.envoy ?? null,
    gateway_clients: windows.gateway?.cpu_us_per_request.clients ?? null,
    envoy_alone_clients: windows.envoy_alone?.cpu_us_per_request.clients ?? null,
  };
  // The ratio a processor costing nothing could reach when the machine's CPU is the limit: the
  // gateway's Envoy and the clients against Envoy alone and the clients.
  const ceiling =
    cpuUs.gateway_envoy && cpuUs.gateway_clients && cpuUs.envoy_alone && cpuUs.envoy_alone_clients
      ? round2((cpuUs.envoy_alone + cpuUs.envoy_alone_clients) / (cpuUs.gateway_envoy + cpuUs.gateway_clients))
      : null;

  const workersGrow = workersRuns.length >= 2 ? workersRuns.every((r, i) => i === 0 || r.rps > workersRuns[i - 1].rps) : null;
  const goals: Goal[] = [
    goal('rps gateway/envoy-alone', gateway && alone ? round2(gateway.rps / alone.rps) : null, '', '>=', TARGETS.rps_ratio_min),
    goal(`added p50 @${RATE}rps`, addedLatency.at_rate_vs_envoy_alone?.p50_ms, ' ms', '<=', TARGETS.added_p50_at_rate_max_ms),
    goal(`gateway p99/p50 @${RATE}rps`, gatewayRate ? round2(gatewayRate.p99_ms / gatewayRate.p50_ms) : null, '×', '<=', TARGETS.p99_over_p50_at_rate_max),
    goal('added p50 sequential', addedLatency.sequential_vs_envoy_alone?.p50_ms, ' ms', '<=', TARGETS.added_p50_sequential_max_ms),
    goal(`added first-event p50 @${RATE}rps`, addedLatency.first_event_at_rate_vs_envoy_alone?.p50_ms, ' ms', '<=', TARGETS.added_ttfb_p50_at_rate_max_ms),
    goal(
      'coalesced SSE events',
      gatewayTtfb?.stream ? gatewayTtfb.stream.coalesced_events : null,
      '',
      '=',
      0,
      gatewayTtfb?.stream
        ? `of ${gatewayTtfb.stream.events}; Envoy alone ${aloneTtfb?.stream ? `${aloneTtfb.stream.coalesced_events}/${aloneTtfb.stream.events}` : 'n/a'}; ${gatewayTtfb.stream.incomplete} incomplete streams`
        : undefined,
    ),
    goal('processor RSS after saturated', memory.gateway_after_saturated?.rss_mb, ' MiB', '<=', TARGETS.rss_after_saturated_max_mib),
    goal(
      'processor RSS growth',
      rssGrowth?.percent,
      '%',
      '<',
      TARGETS.rss_growth_max_percent,
      rssGrowth
        ? `over ${rssGrowth.requests} requests${rssGrowth.requests < TARGETS.rss_growth_requests ? `, target is over ${TARGETS.rss_growth_requests}: BENCH_LONG=1` : ''}`
        : undefined,
    ),
    {
      name: 'rps grows with workers',
      value: workersRuns.length >= 2 ? round2(workersRuns[workersRuns.length - 1].rps / workersRuns[0].rps) : null,
      unit: '×',
      target: 'rises with each added worker',
      pass: workersGrow,
      ...(workersGrow === null ? { note: workersNote ?? 'needs two worker counts' } : { note: `${workersRuns.map((r) => `${r.workers}: ${fmt(r.rps, 0)} rps`).join(', ')}` }),
    },
  ];
  const summary = summaryLine(goals);

  if (results.length) {
    log('');
    log(table(results));
    log('');
    const a = addedLatency;
    if (a.vs_direct) log(`gateway added latency: p50 ${signed(a.vs_direct.p50_ms)} ms, p99 ${signed(a.vs_direct.p99_ms)} ms vs direct`);
    if (a.vs_envoy_alone) log(`gateway added latency: p50 ${signed(a.vs_envoy_alone.p50_ms)} ms, p99 ${signed(a.vs_envoy_alone.p99_ms)} ms vs Envoy alone`);
    if (a.envoy_alone_vs_direct) log(`(Envoy alone: p50 ${signed(a.envoy_alone_vs_direct.p50_ms)} ms, p99 ${signed(a.envoy_alone_vs_direct.p99_ms)} ms vs direct)`);
    if (a.stream_vs_direct) log(`streaming through the gateway: p50 ${signed(a.stream_vs_direct.p50_ms)} ms, p99 ${signed(a.stream_vs_direct.p99_ms)} ms vs direct (time to last byte)`);
  }
  if (paced.length) {
    log('');
    // Grouped by phase, then in target order, whatever order they ran in.
    const phases: PacedPhase[] = ['fixed-rate', 'sequential', 'stream-ttfb'];
    const targets = ['direct', 'envoy alone', 'gateway'];
    const rank = (r: PacedTargetResult) => phases.indexOf(r.phase) * 10 + targets.indexOf(r.target);
    log(pacedTable([...paced].sort((a, b) => rank(a) - rank(b))));
    log('');
    const a = addedLatency;
    if (gatewayRate && a.at_rate_vs_envoy_alone) {
      log(
        `at ${RATE} req/s (${RATE_CONNECTIONS} connections): gateway p50 ${fmt(gatewayRate.p50_ms)} ms, p99 ${fmt(gatewayRate.p99_ms)} ms ` +
          `(p99/p50 ${fmt(gatewayRate.p99_ms / gatewayRate.p50_ms, 1)}×); added p50 ${signed(a.at_rate_vs_envoy_alone.p50_ms)} ms, ` +
          `p99 ${signed(a.at_rate_vs_envoy_alone.p99_ms)} ms vs Envoy alone`,
      );
    }
    if (gatewaySeq && aloneSeq) {
      log(
        `one request at a time (${SEQ_REQUESTS} sequential requests, 1 connection): p50 direct ${fmt(directSeq?.p50_ms)}, ` +
          `Envoy alone ${fmt(aloneSeq.p50_ms)}, gateway ${fmt(gatewaySeq.p50_ms)} ms; gateway added p50 ${signed(a.sequential_vs_envoy_alone?.p50_ms)} ms vs Envoy alone`,
      );
    }
    if (gatewayTtfb && aloneTtfb) {
      const co = (r: PacedTargetResult | undefined) => (r?.stream ? `${r.stream.coalesced_events}/${r.stream.events}` : 'n/a');
      const inc = [directTtfb, aloneTtfb, gatewayTtfb].reduce((n, r) => n + (r?.stream?.incomplete ?? 0), 0);
      log(
        `streaming at ${RATE} req/s, time to first SSE event: p50 direct ${fmt(directTtfb?.p50_ms)}, Envoy alone ${fmt(aloneTtfb.p50_ms)}, ` +
          `gateway ${fmt(gatewayTtfb.p50_ms)} ms (p99 ${fmt(directTtfb?.p99_ms)} / ${fmt(aloneTtfb.p99_ms)} / ${fmt(gatewayTtfb.p99_ms)}); ` +
          `gateway added p50 ${signed(a.first_event_at_rate_vs_envoy_alone?.p50_ms)} ms vs Envoy alone; ` +
          `events coalesced: direct ${co(directTtfb)}, Envoy alone ${co(aloneTtfb)}, gateway ${co(gatewayTtfb)}; incomplete streams ${inc}`,
      );
    }
  }
  if (windows.gateway || windows.envoy_alone) {
    log(
      `CPU per request (saturated run): processor ${fmt(cpuUs.gateway_processor, 0)} µs, its Envoy ${fmt(cpuUs.gateway_envoy, 0)} µs, ` +
        `load generator and upstream ${fmt(cpuUs.gateway_clients, 0)} µs; Envoy alone ${fmt(cpuUs.envoy_alone, 0)} µs, ` +
        `load generator and upstream ${fmt(cpuUs.envoy_alone_clients, 0)} µs`,
    );
    if (ceiling !== null) log(`with a processor costing no CPU, the CPU-bound rps ratio to Envoy alone could reach at most ${fmt(ceiling)} (its Envoy's ext_proc work alone)`);
  }
  if (grpc.saturated) log(grpcLine('per request, saturated run', grpc.saturated));
  if (grpc.stream) log(grpcLine('per request, saturated stream run', grpc.stream, windows.gateway_stream?.cpu_us_per_request));
  const m = (r: MemoryReading | undefined) => (r ? `${fmt(r.rss_mb, 1)} MiB` : 'n/a');
  if (memory.gateway_idle || memory.gateway_after) {
    log(
      `processor RSS: ${m(memory.gateway_idle)} idle, ${m(memory.gateway_warm)} after warm-up, ${m(memory.gateway_after_saturated)} after the saturated run, ` +
        `${m(memory.gateway_after)} after all runs${LONG ? `, ${m(memory.gateway_after_long)} after the long run` : ''} ` +
        `(peak ${fmt((memory.gateway_after_long ?? memory.gateway_after)?.peak_rss_mb, 1)} MiB)` +
        (rssGrowth ? `; growth ${signed(rssGrowth.percent)}% over ${rssGrowth.requests} requests` : '') +
        `; its Envoy: ${m(memory.gateway_envoy_after)}; Envoy alone: ${m(memory.envoy_alone)}`,
    );
  }
  if (workersResults.length) {
    log('');
    log(table(workersResults));
  }

  const gatewayFailed =
    results.some((r) => r.target.startsWith('gateway') && (r.non2xx > 0 || r.errors > 0 || (r.warmup?.non2xx ?? 0) > 0)) ||
    paced.some((r) => r.target === 'gateway' && (r.non2xx > 0 || r.errors > 0));
  if (gatewayFailed && Object.keys(gatewayStats).length) {
    log(`gateway Envoy counters: ${Object.entries(gatewayStats).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
  log('');
  log(summary);

  const failures = [...results, ...workersResults].flatMap(problemsOf).concat(paced.flatMap(pacedProblemsOf));
  if (error) failures.unshift(`run aborted: ${error}`);
  const ok = failures.length === 0;

  const report = {
    ok,
    failures,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    settings: {
      duration_s: DURATION,
      warmup_s: WARMUP,
      connections: CONNECTIONS,
      streaming: STREAM,
      rate: RATE,
      rate_connections: RATE_CONNECTIONS,
      rate_requests: RATE_REQUESTS,
      sequential_requests: SEQ_REQUESTS,
      sequential_warmup: SEQ_WARMUP,
      event_gap_ms: EVENT_GAP_MS,
      long_run: LONG ? LONG_REQUESTS : null,
      workers: WORKERS,
      gateway_log_level: GATEWAY_LOG_LEVEL,
    },
    environment: {
      node: process.version,
      envoy: envoyVersion ?? null,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? null,
      platform: `${os.platform()} ${os.release()}`,
    },
    summary,
    goals,
    targets: results,
    paced,
    added_latency_ms: addedLatency,
    cpu_us_per_request: cpuUs,
    rps_ratio_ceiling_free_processor: ceiling,
    grpc_per_request: grpc,
    run_windows: windows,
    memory_mb: memory,
    rss_growth: rssGrowth,
    workers: { note: workersNote ?? null, runs: workersRuns },
    gateway_envoy_stats: gatewayStats,
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const latest = path.join(RESULTS_DIR, 'latest.json');
  // ISO time with ':' replaced, which some file systems and tools do not accept in names.
  const stamped = path.join(RESULTS_DIR, `${started.toISOString().replace(/:/g, '-')}.json`);
  fs.writeFileSync(latest, text);
  fs.writeFileSync(stamped, text);
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  log(`\nresults written to ${rel(latest)} and ${rel(stamped)}`);

  if (!ok) {
    process.stderr.write(`\nbench FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  log('bench OK: no errors, all responses 2xx (goals above are informational)');
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
