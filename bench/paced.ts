/**
 * The latency phases' client, on node:http: a fixed request rate spread evenly over a few
 * keep-alive connections, or one connection sending requests back to back.
 *
 * autocannon's connectionRate/overallRate send each second's quota back to back and then idle
 * until the next second, so "200 rps" there is a burst at full speed; latency at a rate needs
 * the requests spaced out. For streamed responses the latency is the time to the first
 * complete SSE `data:` event, and each event is tagged with the socket read that delivered it,
 * so events a proxy joined into one write show up as several events in one read (coalesced).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { percentile, round } from './load';
import { sleep } from './procs';

export interface PacedSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  /** Requests per second over all connections; 0 sends each request as soon as the previous one ended. */
  rate: number;
  requests: number;
  streaming: boolean;
}

export interface StreamStats {
  /** SSE events received, over all responses. */
  events: number;
  /** Events that arrived in the same socket read as another event of the same response. */
  coalesced_events: number;
  /** Responses with at least one coalesced event. */
  coalesced_responses: number;
  /** 2xx responses that ended without `data: [DONE]`. */
  incomplete: number;
  /** Time to the end of the response (the latency fields are to the first event). */
  last_byte_p50_ms: number;
  last_byte_p99_ms: number;
}

export interface PacedResult {
  requests: number;
  ok_2xx: number;
  errors: number;
  non2xx: number;
  status_codes: Record<string, number>;
  duration_s: number;
  /** Achieved rate. */
  rps: number;
  /** Latency of 2xx responses: to the last byte, or for streams to the first SSE event. */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  stream: StreamStats | null;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** Numbers every socket read: a response's body chunks carry the number of the read that brought them. */
let readSeq = 0;
const counted = new WeakSet<Socket>();
function countReads(socket: Socket): void {
  if (counted.has(socket)) return;
  counted.add(socket);
  // Ahead of the HTTP parser's own listener, so the body chunks it emits see the new number.
  socket.prependListener('data', () => readSeq++);
}

interface One {
  status: number;
  /** ms to the end of the response */
  total: number;
  /** ms to the first complete SSE event (streams only) */
  first?: number;
  events: number;
  coalesced: number;
  done: boolean;
}

function once(agent: http.Agent, url: URL, spec: PacedSpec, payload: Buffer): Promise<One> {
  return new Promise<One>((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        agent,
        headers: { ...spec.headers, 'content-length': String(payload.length) },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let first: number | undefined;
        let events = 0;
        let done = false;
        let buffered = '';
        const perRead = new Map<number, number>();
        if (spec.streaming && status >= 200 && status < 300) {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            buffered += chunk.replace(/\r\n/g, '\n');
            let end: number;
            while ((end = buffered.indexOf('\n\n')) >= 0) {
              const event = buffered.slice(0, end);
              buffered = buffered.slice(end + 2);
              if (!/^data:/m.test(event)) continue;
              events++;
              first ??= now - t0;
              perRead.set(readSeq, (perRead.get(readSeq) ?? 0) + 1);
              if (/^data: ?\[DONE\]\s*$/m.test(event)) done = true;
            }
          });
        } else {
          res.resume();
        }
        res.on('end', () => {
          let coalesced = 0;
          for (const n of perRead.values()) if (n > 1) coalesced += n;
          resolve({ status, total: performance.now() - t0, first, events, coalesced, done });
        });
        res.on('error', reject);
      },
    );
    req.on('socket', countReads);
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    const t0 = performance.now();
    req.end(payload);
  });
}

let stopping = false;
/** Ends a paced run in progress at its next request (on a signal or the watchdog). */
export function stopPaced(): void {
  stopping = true;
}

export async function runPaced(spec: PacedSpec): Promise<PacedResult> {
  const url = new URL(spec.url);
  const payload = Buffer.from(spec.body);
  const latencies: number[] = [];
  const lastByte: number[] = [];
  const codes: Record<string, number> = {};
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  const stream: StreamStats = { events: 0, coalesced_events: 0, coalesced_responses: 0, incomplete: 0, last_byte_p50_ms: NaN, last_byte_p99_ms: NaN };

  const connections = Math.max(1, Math.min(spec.connections, spec.requests));
  // Each connection keeps its own schedule, offset from the others so that together the
  // requests are evenly spaced.
  const interval = spec.rate > 0 ? (connections * 1000) / spec.rate : 0;
  const start = performance.now();

  const connection = async (i: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const share = Math.floor(spec.requests / connections) + (i < spec.requests % connections ? 1 : 0);
    let next = start + (i * interval) / connections;
    try {
      for (let k = 0; k < share && !stopping; k++) {
        if (interval > 0) {
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
        }
        sent++;
        try {
          const r = await once(agent, url, spec, payload);
          codes[r.status] = (codes[r.status] ?? 0) + 1;
          if (r.status < 200 || r.status >= 300) {
            non2xx++;
          } else if (spec.streaming) {
            stream.events += r.events;
            stream.coalesced_events += r.coalesced;
            if (r.coalesced > 0) stream.coalesced_responses++;
            if (!r.done || r.first === undefined) stream.incomplete++;
            if (r.first !== undefined) latencies.push(r.first);
            lastByte.push(r.total);
          } else {
            latencies.push(r.total);
          }
        } catch {
          errors++;
        }
        // The schedule is absolute: after a slow response the connection sends at once until it
        // is back on time, so the overall rate holds unless the target cannot keep up.
        next += interval;
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => connection(i)));

  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const ok = Object.entries(codes).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0);
  if (spec.streaming) {
    const sortedLast = Float64Array.from(lastByte).sort();
    stream.last_byte_p50_ms = round(percentile(sortedLast, 50));
    stream.last_byte_p99_ms = round(percentile(sortedLast, 99));
  }
  return {
    requests: sent,
    ok_2xx: ok,
    errors,
    non2xx,
    status_codes: codes,
    duration_s: round(elapsed, 2),
    rps: round(sent / elapsed, 1),
    p50_ms: round(percentile(sorted, 50)),
    p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.length ? sorted[sorted.length - 1] : NaN),
    mean_ms: round(latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN),
    stream: spec.streaming ? stream : null,
  };
}
