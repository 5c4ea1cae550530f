/**
 * The load generator: autocannon, driven programmatically. Latency percentiles are computed
 * from every response's own timing (autocannon's histogram rounds to whole milliseconds,
 * too coarse for sub-millisecond loopback hops); throughput and error counts come from
 * autocannon's result.
 */
import type { EventEmitter } from 'node:events';

/** The part of autocannon's API the benchmark uses (the package ships no types). */
interface AutocannonOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  pipelining?: number;
  duration?: number;
  amount?: number;
  timeout?: number;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number; sent: number };
}

interface AutocannonInstance extends EventEmitter {
  stop(): void;
}

type Autocannon = (opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

const autocannon = require('autocannon') as Autocannon;

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationSeconds: number;
  /** A fixed number of requests instead of a duration (the long memory run). */
  amount?: number;
}

export interface LoadResult {
  duration_s: number;
  requests: number;
  ok_2xx: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  status_codes: Record<string, number>;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** `v` rounded to `digits` decimals, for reports. */
export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

let current: AutocannonInstance | undefined;

/** Stops a load run in progress (on a signal or the watchdog); its promise then settles. */
export function stopLoad(): void {
  current?.stop();
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  // autocannon only stops at its next 1 s tick after the duration, so its run lasts up to a
  // second longer than asked; throughput is counted over exactly the requested window instead.
  const windowMs = spec.amount ? Infinity : spec.durationSeconds * 1000;
  let inWindow = 0;
  let t0 = 0;
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        pipelining: 1,
        ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSeconds }),
        timeout: 10,
      },
      (err, r) => {
        current = undefined;
        if (err) return reject(err);
        const sorted = Float64Array.from(latencies).sort();
        const ok = r['2xx'];
        const sum = latencies.reduce((a, b) => a + b, 0);
        resolve({
          duration_s: r.duration,
          requests: r.requests.total,
          ok_2xx: ok,
          rps: round(inWindow / (spec.amount ? (performance.now() - t0) / 1000 : spec.durationSeconds), 1),
          p50_ms: round(percentile(sorted, 50)),
          p90_ms: round(percentile(sorted, 90)),
          p99_ms: round(percentile(sorted, 99)),
          max_ms: round(sorted.length ? sorted[sorted.length - 1] : NaN),
          mean_ms: round(latencies.length ? sum / latencies.length : NaN),
          errors: r.errors,
          timeouts: r.timeouts,
          non2xx: r.non2xx,
          status_codes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
        });
      },
    );
    current = instance;
    t0 = performance.now();
    // (client, statusCode, resBytes, responseTime in ms with sub-ms precision)
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode < 200 || statusCode >= 300) return;
      latencies.push(responseTime);
      if (performance.now() - t0 <= windowMs) inWindow++;
    });
  });
}
