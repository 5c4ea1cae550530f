import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CLIENT_KEY, isRunning, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { freePorts } from '../helpers/ports';

/**
 * processor.workers: 2, end to end. One real gateway (Envoy with two worker threads, the CLI's
 * primary process and two forked ext_proc workers on a shared, kernel-assigned ext_proc_port)
 * in front of a fake OpenAI and a fake Anthropic upstream, with the SQLite store. Both workers
 * serve; usage, rate limits, fallbacks, admin changes and /metrics stay exact across them; a
 * killed worker is replaced; SIGTERM drains both and loses no usage record.
 */

const ADMIN = 'sk-admin-workers-0123456789';
const ANTHROPIC_KEY = 'sk-anthropic-workers-fallback';
const ZEBRA_RULES = [{ name: 'workers', rules: [{ name: 'no-zebras', keywords: ['zebra'], action: 'block' }] }];

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gw: RunningGateway;
let extProcPort: number;
/** Every chat request that got a 200 (its x-request-id), to check its usage record at the end. */
const delivered = new Set<string>();
let seq = 0;

async function startWithWorkers(): Promise<RunningGateway> {
  // startGateway retries taken gateway ports itself; ext_proc_port is ours to allocate again.
  for (let attempt = 1; ; attempt++) {
    [extProcPort] = await freePorts(1);
    try {
      return await startGateway({
        config: {
          envoy: { concurrency: 2 },
          processor: { workers: 2, ext_proc_port: extProcPort },
          providers: [
            { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-upstream', models: ['gpt-*'] },
            { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: ANTHROPIC_KEY, models: ['claude-*'] },
          ],
          fallbacks: [{ model: 'gpt-4o', fallback_models: ['claude-sonnet-4-5'], on: [503] }],
          rate_limits: { rules: [{ name: 'rpm', match: { key: '*', model: 'gpt-4o-mini' }, requests_per_minute: 10 }] },
          keys: { admin: [{ key: ADMIN, id: 'root' }] },
          security: { content_filtering_enabled: false, content_filters: ZEBRA_RULES },
          usage: { flush_interval_ms: 1000 },
          plugins: testPlugins({ use: 'rate-limit-descriptors' }),
        },
      });
    } catch (err) {
      if (!/Address already in use|is already in use/.test((err as Error).message) || attempt >= 3) throw err;
    }
  }
}

beforeAll(async () => {
  openai = await startFakeOpenAI();
  anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY });
  // The primary of every fallback chain is down; everything else answers (fake default: echo).
  openai.handle((req, res) => {
    if (req.json?.model === 'gpt-4o') return sendJson(res, 503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } });
    if (req.json?.model === 'gpt-4.1-slow') {
      return void setTimeout(() => sendJson(res, 200, completion(req.json.model, 'slow answer')), 400);
    }
    return sendJson(res, 200, completion(req.json?.model, `echo: ${req.json?.messages?.at(-1)?.content}`));
  });
  gw = await startWithWorkers();
}, 60_000);

afterAll(async () => {
  if (gw && gw.proc.exitCode === null && gw.proc.signalCode === null) {
    // A test failed before the SIGTERM test: stop it as it should stop, then make sure that
    // nothing it started (Envoy, workers) outlives it.
    const children = childPids(gw.proc.pid!);
    await gw.stop();
    for (const pid of children) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
  await openai?.close();
  await anthropic?.close();
});

// ---------------------------------------------------------------------------------------------
// Helpers

interface Sent {
  id: string;
  status: number;
  headers: Headers;
  body: any;
}

/** A chat completion in the shape the official OpenAI SDK sends. Never rejects. */
async function send(model: string, opts: { key?: string; content?: string; tag?: string } = {}): Promise<Sent> {
  const id = `workers-${opts.tag ?? model}-${process.pid}-${++seq}`;
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${opts.key ?? CLIENT_KEY}`,
      'user-agent': 'OpenAI/JS 4.77.0',
      'x-stainless-lang': 'js',
      'x-request-id': id,
    },
    body: JSON.stringify({
      model,
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: opts.content ?? `hello from ${id}` },
      ],
      temperature: 0.2,
      max_tokens: 64,
    }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (res.status === 200) delivered.add(id);
  return { id, status: res.status, headers: res.headers, body };
}

/** Runs `n` calls of `fn`, `width` at a time; results in call order. */
async function batch<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/** Direct children of a process (every thread's), from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The live processor workers of the gateway: its children forked with GATEWAY_PROCESSOR_WORKER=1. */
function workerPids(): number[] {
  return childPids(gw.proc.pid!)
    .filter((pid) => {
      try {
        // A dead child not yet reaped (zombie) has an empty environment.
        return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('GATEWAY_PROCESSOR_WORKER=1');
      } catch {
        return false;
      }
    })
    .sort((a, b) => a - b);
}

/** Established TCP connections a process holds whose local end is `port` (server side). */
function serverConnections(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1].split(':').at(-1)!, 16);
      if (localPort === port && f[3] === '01' && inodes.has(f[9])) n++;
    }
  }
  return n;
}

/** The processor `request` log lines of these request ids (waits until each has its line). */
async function requestLines(ids: string[]): Promise<Record<string, any>[]> {
  const want = new Set(ids);
  const lines = await waitFor(() => {
    const found = gw.logs().filter((l) => l.msg === 'request' && want.has(l.request_id));
    return found.length >= want.size ? found : undefined;
  }, 10_000);
  return lines!;
}

/** The distinct processor worker ids (node:cluster ids, in the log lines) that handled these requests. */
async function workersOf(ids: string[]): Promise<Set<number>> {
  const lines = await requestLines(ids);
  for (const l of lines) expect(typeof l.worker).toBe('number');
  return new Set(lines.map((l) => l.worker));
}

const admin = (method: string, p: string, body?: unknown) =>
  fetch(`${gw.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function usageRequests(model: string): Promise<number> {
  const res = await admin('GET', '/v1/usage?group_by=model');
  expect(res.status).toBe(200);
  const row = ((await res.json()) as any).data.find((r: any) => r.group === model);
  return row?.requests ?? 0;
}

/** Sum of a counter's samples on the processor admin port's /metrics whose labels include `labels`. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.ports.admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

function usageRows(): { request_id: string; outcome: string; status: number; provider: string; total_tokens: number }[] {
  const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
  try {
    return db.prepare("SELECT request_id, outcome, status, provider, total_tokens FROM usage_records WHERE request_id LIKE 'workers-%'").all() as any[];
  } finally {
    db.close();
  }
}

/**
 * Rounds of `width` concurrent requests until both workers have answered some (at most
 * `rounds` rounds): the ids and results of all of them.
 */
async function untilBothWorkers(width: number, rounds: number, fn: () => Promise<Sent>): Promise<{ sent: Sent[]; workers: Set<number> }> {
  const sent: Sent[] = [];
  let workers = new Set<number>();
  for (let r = 0; r < rounds && workers.size < 2; r++) {
    sent.push(...(await Promise.all(Array.from({ length: width }, fn))));
    workers = await workersOf(sent.map((s) => s.id));
  }
  return { sent, workers };
}

// ---------------------------------------------------------------------------------------------

let firstWorkers: number[] = [];

test('two worker processes serve ext_proc: Envoy holds a connection to each, and each handles requests', async () => {
  firstWorkers = workerPids();
  expect(firstWorkers).toHaveLength(2);
  expect(firstWorkers).not.toContain(gw.proc.pid);
  const started = gw.logs().filter((l) => l.msg === 'processor started' && l.role === 'worker');
  expect(started.map((l) => l.grpc_port)).toEqual([extProcPort, extProcPort]);

  const results = await batch(40, 8, () => send('gpt-4.1', { tag: 'basic' }));
  expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
  for (const r of results) {
    expect(r.body.object).toBe('chat.completion');
    expect(r.body.choices[0].message.content).toBe(`echo: hello from ${r.id}`);
    expect(r.headers.get('x-gateway-served-by')).toBe('openai/gpt-4.1');
  }
  expect(openai.requests.filter((r) => r.json?.model === 'gpt-4.1')).toHaveLength(40);

  // Each worker process holds (server side) an Envoy connection on ext_proc_port; the primary none.
  const perWorker = firstWorkers.map((pid) => serverConnections(pid, extProcPort));
  expect(perWorker.every((n) => n >= 1)).toBe(true);
  expect(serverConnections(gw.proc.pid!, extProcPort)).toBe(0);

  // Envoy's side: the ext_proc cluster has two connections and carried every request.
  const clusters = await (await fetch(`http://127.0.0.1:${gw.ports.envoyAdmin}/clusters`)).text();
  const stat = (s: string) => Number(new RegExp(`^gateway_ext_proc::[^:]+:${extProcPort}::${s}::(\\d+)$`, 'm').exec(clusters)?.[1]);
  expect(stat('cx_active')).toBe(2);
  expect(stat('rq_total')).toBeGreaterThanOrEqual(40);

  // Both workers handled some of the 40 (the `worker` field of each request log line).
  const lines = await requestLines(results.map((r) => r.id));
  expect(lines).toHaveLength(40);
  const counts = new Map<number, number>();
  for (const l of lines) counts.set(l.worker, (counts.get(l.worker) ?? 0) + 1);
  expect(counts.size).toBe(2);
  for (const n of counts.values()) expect(n).toBeGreaterThan(0);
});

test('usage: the 40 requests are exactly 40 usage records, none lost, none doubled', async () => {
  await waitFor(async () => (await usageRequests('gpt-4.1')) >= 40, 10_000);
  expect(await usageRequests('gpt-4.1')).toBe(40);
  const rows = usageRows().filter((r) => r.request_id.startsWith('workers-basic-'));
  expect(rows).toHaveLength(40);
  expect(new Set(rows.map((r) => r.request_id)).size).toBe(40);
  for (const r of rows) expect(r).toMatchObject({ outcome: 'completed', status: 200, provider: 'openai', total_tokens: 12 });
});

test('/metrics on the processor admin port adds up the workers\' counters', async () => {
  const served = () => counter('gateway_requests_total', { provider: 'openai', model: 'gpt-4.1', endpoint: 'chat.completions' });
  await waitFor(async () => (await served()) >= 40, 5000);
  expect(await served()).toBe(40);
  expect(await counter('gateway_requests_total', { provider: 'openai', model: 'gpt-4.1', status: '200' })).toBe(40);
  // The same through Envoy's /metrics route.
  const viaEnvoy = await (await fetch(`${gw.url}/metrics`)).text();
  expect(viaEnvoy).toMatch(/gateway_requests_total\{[^}]*model="gpt-4\.1"[^}]*status="200"[^}]*\} 40$/m);
});

test('rate limits stay exact with two workers: 10 per minute lets exactly 10 of 25 concurrent requests through', async () => {
  const before = openai.requests.length;
  const results = await Promise.all(Array.from({ length: 25 }, () => send('gpt-4o-mini', { tag: 'rpm' })));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  expect(ok).toHaveLength(10);
  expect(refused).toHaveLength(15);
  expect(openai.requests.length - before).toBe(10);
  expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const r of refused) {
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(r.body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error', param: null });
    expect(r.body.error.message).toMatch(/rpm: limit 10 requests per minute/);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }
  // Both workers took part (their metadata feeds one counter, in the primary).
  expect((await workersOf(results.map((r) => r.id))).size).toBe(2);
});

test('a fallback chain across providers works under concurrency: 30 requests, all served by the fallback', async () => {
  const openaiBefore = openai.requests.filter((r) => r.json?.model === 'gpt-4o').length;
  const anthropicBefore = anthropic.requests.length;
  // 10 at a time: every fallback is a retry of the chain cluster to Envoy, and its default limit
  // of 3 retries in flight once turned the 4th simultaneous fallback into the primary's 503.
  const results = await batch(30, 10, () => send('gpt-4o', { tag: 'fallback' }));
  expect(results.map((r) => [r.status, r.headers.get('x-gateway-served-by')])).toEqual(Array(30).fill([200, 'anthropic/claude-sonnet-4-5']));
  for (const r of results) {
    expect(r.body.object).toBe('chat.completion');
    expect(r.body.model).toMatch(/^claude-sonnet-4-5/);
    expect(r.body.choices[0].message.content).toBe(`echo: hello from ${r.id}`);
  }
  // The primary was tried (Envoy may then skip it for a while: passive health checking), and
  // each request reached the fallback once, in its own wire format.
  const primaryTries = openai.requests.filter((r) => r.json?.model === 'gpt-4o').length - openaiBefore;
  expect(primaryTries).toBeGreaterThanOrEqual(1);
  expect(primaryTries).toBeLessThanOrEqual(30);
  const fallbacks = anthropic.requests.slice(anthropicBefore);
  expect(fallbacks).toHaveLength(30);
  for (const r of fallbacks) {
    expect(r.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(r.json.model).toBe('claude-sonnet-4-5');
  }
  const lines = await requestLines(results.map((r) => r.id));
  for (const l of lines) expect(l).toMatchObject({ provider: 'anthropic', upstream_model: 'claude-sonnet-4-5', status: 200 });
  expect(new Set(lines.map((l) => l.worker)).size).toBe(2);
  // No attempt stream reached a worker that did not hold its exchange.
  expect(gw.logs().filter((l) => l.msg === 'upstream attempt without a routed request')).toEqual([]);
});

test('a key created through the admin API works on every worker; once revoked, the very next requests are 401 on every worker', async () => {
  const created = await admin('POST', '/v1/keys', { name: 'workers-temp', user: 'temp-user', team: 'temp-team' });
  expect(created.status).toBe(201);
  const key = (await created.json()) as any;
  expect(key.key).toMatch(/^sk-gw-/);

  // Used until both workers have served it (and cached it).
  const used = await untilBothWorkers(8, 5, () => send('gpt-4.1-mini', { key: key.key, tag: 'newkey' }));
  expect(used.sent.map((s) => s.status)).toEqual(Array(used.sent.length).fill(200));
  expect(used.workers.size).toBe(2);

  const revoked = await admin('DELETE', `/v1/keys/${key.id}`);
  expect(revoked.status).toBe(200);
  // No pause: every request from now on is refused, whichever worker takes it.
  const after = await untilBothWorkers(8, 5, () => send('gpt-4.1-mini', { key: key.key, tag: 'revoked' }));
  expect(after.sent.map((s) => s.status)).toEqual(Array(after.sent.length).fill(401));
  for (const s of after.sent) expect(s.body.error).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
  expect(after.workers.size).toBe(2);
  expect(openai.requests.filter((r) => r.json?.messages?.at(-1)?.content?.includes('workers-revoked-'))).toEqual([]);
});

test('a security setting changed through the admin API applies to the very next requests on every worker', async () => {
  const zebra = () => send('gpt-4.1-mini', { content: 'a zebra crossing', tag: 'zebra' });
  const allowed = await untilBothWorkers(8, 5, zebra);
  expect(allowed.sent.map((s) => s.status)).toEqual(Array(allowed.sent.length).fill(200));
  expect(allowed.workers.size).toBe(2);

  const on = await admin('PUT', '/v1/security/config', { content_filtering_enabled: true });
  expect(on.status).toBe(200);
  const blocked = await untilBothWorkers(8, 5, zebra);
  expect(blocked.sent.map((s) => s.status)).toEqual(Array(blocked.sent.length).fill(400));
  for (const s of blocked.sent) expect(s.body.error).toMatchObject({ code: 'content_filtered', message: expect.stringContaining('no-zebras') });
  expect(blocked.workers.size).toBe(2);

  const off = await admin('PUT', '/v1/security/config', { content_filtering_enabled: false });
  expect(off.status).toBe(200);
  const again = await untilBothWorkers(8, 5, zebra);
  expect(again.sent.map((s) => s.status)).toEqual(Array(again.sent.length).fill(200));
  expect(again.workers.size).toBe(2);
});

test('a killed worker is replaced, requests succeed again, and the replacement gets its share of the traffic', async () => {
  // What a SIGKILL cannot lose: the usage records already written (a worker writes its own,
  // every flush_interval_ms, so wait for all of them first).
  await waitFor(() => {
    const ids = new Set(usageRows().map((r) => r.request_id));
    return [...delivered].every((id) => ids.has(id));
  }, 10_000);
  const [victim, survivor] = workerPids();
  expect(survivor).toBeDefined();
  process.kill(victim, 'SIGKILL');
  const replaced = await waitFor(() => {
    const now = workerPids();
    return now.length === 2 && !now.includes(victim) && now.includes(survivor) ? now : undefined;
  }, 20_000, 100);
  expect(isRunning(victim)).toBe(false);
  expect(gw.logs().some((l) => l.msg === 'processor worker died; starting another' && l.signal === 'SIGKILL')).toBe(true);
  await waitFor(() => gw.logs().filter((l) => l.msg === 'processor started' && l.role === 'worker').length >= 3, 10_000);

  // Soon every request succeeds again (one that was on the dead worker's connection may not).
  await waitFor(async () => (await send('gpt-4.1-nano', { tag: 'probe' })).status === 200, 10_000, 100);
  const results = await batch(16, 8, () => send('gpt-4.1-nano', { tag: 'afterkill' }));
  expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
  // Envoy reconnected to the survivor while the worker was down; the survivor then hands its
  // connections back (GOAWAY once none of their requests awaits per-attempt streams), and
  // Envoy's new connections are spread again: the replacement serves too.
  await waitFor(() => gw.logs().some((l) => typeof l.moved === 'number' && l.moved >= 1), 15_000, 100);
  const after = await untilBothWorkers(8, 5, () => send('gpt-4.1-nano', { tag: 'rebalanced' }));
  expect(after.sent.every((r) => r.status === 200)).toBe(true);
  // Two workers exist (survivor and replacement): both answered.
  expect(after.workers.size).toBe(2);
  // The gateway itself never went down.
  expect(gw.proc.exitCode).toBeNull();
  expect(workerPids()).toEqual(replaced);
});

test('a replacement that dies while starting is tried again, and the gateway gets back to two workers', async () => {
  // As above: a SIGKILL loses what a worker has not written yet, so first let it all be written.
  await waitFor(() => {
    const ids = new Set(usageRows().map((r) => r.request_id));
    return [...delivered].every((id) => ids.has(id));
  }, 10_000);
  const before = workerPids();
  expect(before).toHaveLength(2);
  process.kill(before[0], 'SIGKILL');
  // The replacement, caught while it is still loading (well before it serves), is killed too.
  const starting = await waitFor(() => workerPids().find((pid) => !before.includes(pid)), 10_000, 10);
  process.kill(starting!, 'SIGKILL');
  await waitFor(() => gw.logs().some((l) => l.msg === 'processor worker restart failed; trying again'), 10_000, 50);
  const after = await waitFor(() => {
    const now = workerPids();
    return now.length === 2 && !now.includes(before[0]) && !now.includes(starting!) ? now : undefined;
  }, 20_000, 100);
  expect(after).toContain(before[1]);
  await waitFor(async () => (await send('gpt-4.1-nano', { tag: 'probe2' })).status === 200, 10_000, 100);
  const results = await batch(8, 4, () => send('gpt-4.1-nano', { tag: 'afterretry' }));
  expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
});

test('SIGTERM: both workers drain and flush, the gateway exits 0, and every delivered response has its usage record', async () => {
  const workers = workerPids();
  expect(workers).toHaveLength(2);
  // A burst that completed just before SIGTERM ...
  const burst = await Promise.all(Array.from({ length: 16 }, () => send('gpt-4.1', { tag: 'final' })));
  expect(burst.map((r) => r.status)).toEqual(Array(16).fill(200));
  // ... and slow requests still in flight when it arrives (the grace period lets them finish).
  const slowBefore = openai.requests.filter((r) => r.json?.model === 'gpt-4.1-slow').length;
  const slow = Promise.all(Array.from({ length: 6 }, () => send('gpt-4.1-slow', { tag: 'slow' })));
  await waitFor(() => openai.requests.filter((r) => r.json?.model === 'gpt-4.1-slow').length - slowBefore === 6, 5000, 5);

  const code = await gw.stop('SIGTERM');
  expect(code).toBe(0);
  const slowResults = await slow;
  expect(slowResults.map((r) => [r.status, r.body?.choices?.[0]?.message?.content])).toEqual(Array(6).fill([200, 'slow answer']));
  // Neither a worker nor Envoy outlives the gateway.
  for (const pid of workers) expect(isRunning(pid)).toBe(false);
  const envoyPid = gw.logs().find((l) => l.msg === 'envoy started')?.pid;
  expect(typeof envoyPid).toBe('number');
  expect(isRunning(envoyPid)).toBe(false);
  expect(gw.logs().some((l) => l.msg === 'stopped' && l.code === 0)).toBe(true);

  // The store after exit: one completed record for every response a client got in full.
  const rows = usageRows();
  const byId = new Map<string, typeof rows>();
  for (const r of rows) byId.set(r.request_id, [...(byId.get(r.request_id) ?? []), r]);
  const wrong = [...delivered].filter((id) => {
    const mine = byId.get(id) ?? [];
    return mine.length !== 1 || mine[0].outcome !== 'completed' || mine[0].status !== 200;
  });
  expect(wrong.map((id) => `${id}: ${JSON.stringify(byId.get(id) ?? [])}`)).toEqual([]);
  for (const r of [...burst, ...slowResults]) expect(byId.get(r.id)).toHaveLength(1);
  // Every 200 of this file is in there: 40 + 10 + 30 + new key (8+) + zebras (16+) + probe + 16 + 16 + 6.
  expect(delivered.size).toBeGreaterThanOrEqual(40 + 10 + 30 + 8 + 16 + 1 + 16 + 16 + 6);
});
