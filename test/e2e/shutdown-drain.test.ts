import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { findEnvoy } from '../../src/envoy/supervisor';
import { CLI, CLIENT_KEY, ROOT, startGateway, waitFor, type RunningGateway } from '../helpers/gateway';
import { chunk, completion, sendJson, startFakeOpenAI, type FakeOpenAI, type RecordedRequest } from '../helpers/fake-openai';

/**
 * SIGTERM under load, against real Envoy and the gateway process started as the CLI does:
 * Envoy stops taking connections, the requests in flight finish within the grace period, every
 * response a client got in full is billed once as `completed`, nothing is billed `completed`
 * that the client did not get, and every request the gateway took has its record (0 lost).
 */

const N = 2000;
const CONCURRENCY = 32;
const USAGE = { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface UsageRow {
  request_id: string;
  outcome: string;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

function records(gw: RunningGateway): UsageRow[] {
  const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
  try {
    return db.prepare('SELECT request_id, outcome, status, prompt_tokens, completion_tokens, total_tokens FROM usage_records').all() as UsageRow[];
  } finally {
    db.close();
  }
}

/** The request ids of the exchanges the gateway took (one `request` log line each). */
function accepted(gw: RunningGateway): string[] {
  return gw.logs().filter((l) => l.msg === 'request').map((l) => l.request_id);
}

function provider(fake: FakeOpenAI) {
  return [{ name: 'fake', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-test', models: ['gpt-*'] }];
}

/** A short answer after `delayMs`, JSON or SSE (with the usage chunk the gateway asks for). */
async function answer(req: RecordedRequest, res: http.ServerResponse, delayMs: number): Promise<void> {
  await sleep(delayMs);
  const model = req.json.model;
  if (!req.json.stream) return sendJson(res, 200, completion(model, 'pong', USAGE));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(`data: ${JSON.stringify(chunk(model, { role: 'assistant', content: 'pong' }))}\n\n`);
  res.write(`data: ${JSON.stringify(chunk(model, {}, 'stop'))}\n\n`);
  if (req.json.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...chunk(model, {}), choices: [], usage: USAGE })}\n\n`);
  res.end('data: [DONE]\n\n');
}

interface Outcome {
  status: number;
  /** The whole response arrived: valid JSON, or an SSE stream through `[DONE]`. */
  complete: boolean;
  body: string;
  error?: string;
}

/** One chat request over `agent`; never rejects. `onData` sees the body as it arrives. */
function send(url: string, agent: http.Agent, id: string, body: object, onData?: (text: string) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${url}/v1/chat/completions`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': id },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        onData?.(text);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, complete: res.complete && isComplete(text), body: text }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, complete: false, body: text, error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, complete: false, body: '', error: err.code ?? err.message }));
    req.end(payload);
  });
}

function isComplete(text: string): boolean {
  if (text.startsWith('data:')) return text.endsWith('data: [DONE]\n\n');
  try {
    return Array.isArray(JSON.parse(text).choices);
  } catch {
    return false;
  }
}

/** Resolves with the error code of a fresh TCP connection to `port`, or 'connected'. */
function connectOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

let fake: FakeOpenAI;
let gw: RunningGateway | undefined;
/** deploy/envoy-drain.sh and its Envoy: their own process group, so cleanup reaches both. */
let sidecar: ChildProcess | undefined;

beforeEach(async () => {
  fake = await startFakeOpenAI();
});

afterEach(async () => {
  if (sidecar?.exitCode === null && sidecar.signalCode === null) process.kill(-sidecar.pid!, 'SIGKILL');
  sidecar = undefined;
  if (gw) await gw.stop('SIGKILL');
  gw = undefined;
  await fake.close();
});

test(`SIGTERM in the middle of ${N} requests at ${CONCURRENCY} connections: in-flight requests finish, new connections are refused, each delivered response billed once`, async () => {
  // Requests take 20-50 ms upstream, so dozens are in flight at any time; `gpt-long` takes 2 s.
  fake.handle((req, res) => answer(req, res, req.json.model === 'gpt-long' ? 2000 : 20 + ((req.json.messages[0].content.length * 7) % 31)));
  gw = await startGateway({
    config: { server: { shutdown_grace_seconds: 20 }, providers: provider(fake), usage: { flush_interval_ms: 1000, batch_size: 5000 } },
  });
  const running = gw;

  const outcomes = new Map<string, Outcome>();
  const inFlight = new Set<string>();
  let termAt = 0;
  let inFlightAtTerm: string[] = [];
  let next = 0;
  const worker = async () => {
    // One connection per worker: keep-alive, and a new one once Envoy closes it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (next < N) {
      const i = next++;
      const id = `load-${i}`;
      inFlight.add(id);
      const body = { model: 'gpt-4o-mini', stream: i % 4 === 0, messages: [{ role: 'user', content: `message number ${i}` }] };
      const out = await send(running.url, agent, id, body);
      inFlight.delete(id);
      outcomes.set(id, out);
      // Once the gateway refuses connections there is nothing more to learn from this worker.
      if (termAt && out.error === 'ECONNREFUSED') break;
    }
    agent.destroy();
  };
  const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));

  await waitFor(() => outcomes.size >= N / 2, 30000, 5);
  // A long request on its own connection, in flight for the whole drain.
  const long = send(running.url, new http.Agent(), 'long-1', { model: 'gpt-long', messages: [{ role: 'user', content: 'long' }] });
  await waitFor(() => fake.requests.some((r) => r.json?.model === 'gpt-long'), 5000, 5);
  termAt = Date.now();
  inFlightAtTerm = [...inFlight];
  running.proc.kill('SIGTERM');

  // Once the drain has begun, new connections are refused while the long request still runs.
  await waitFor(() => running.logs().some((l) => l.msg?.startsWith('envoy draining')), 5000, 5);
  const probe = await waitFor(async () => ((await connectOnce(running.ports.http)) === 'ECONNREFUSED' ? 'refused' : undefined), 1000, 20);
  expect(probe).toBe('refused');
  expect(outcomes.has('long-1')).toBe(false);

  const longOut = await long;
  await load;
  expect(await running.exited).toBe(0);
  outcomes.set('long-1', longOut);

  // Requests in flight at SIGTERM, the long one included, completed in full.
  expect(inFlightAtTerm.length).toBeGreaterThan(0);
  expect(longOut).toMatchObject({ status: 200, complete: true });
  expect(inFlightAtTerm.filter((id) => !outcomes.get(id)?.complete)).toEqual([]);
  // Every other request was refused a connection, or reset with no answer at all: HTTP/1.1's
  // keep-alive race, a request written on an idle connection as Envoy closed it for the drain
  // (checked below never to have reached the gateway). None got an error answer or a cut response.
  const delivered = new Set([...outcomes].filter(([, o]) => o.status === 200 && o.complete).map(([id]) => id));
  const others = [...outcomes].filter(([id]) => !delivered.has(id));
  expect(others.filter(([, o]) => o.status !== 0 || (o.error !== 'ECONNREFUSED' && !(o.error === 'ECONNRESET' && o.body === '')))).toEqual([]);
  const reset = others.filter(([, o]) => o.error === 'ECONNRESET').map(([id]) => id);
  expect(delivered.size).toBeGreaterThan(N / 2);

  const rows = records(running);
  const byId = new Map<string, UsageRow[]>();
  for (const r of rows) byId.set(r.request_id, [...(byId.get(r.request_id) ?? []), r]);
  // Every response the client got in full has exactly one record, completed, with its tokens.
  const billed = (id: string) => JSON.stringify(byId.get(id)?.map((r) => [r.outcome, r.status, r.total_tokens]));
  expect([...delivered].filter((id) => billed(id) !== '[["completed",200,12]]').map((id) => `${id}: ${billed(id)}`)).toEqual([]);
  // No record says completed for a request the client did not get.
  expect(rows.filter((r) => r.outcome === 'completed' && !delivered.has(r.request_id))).toEqual([]);
  // One record per request the gateway took, including every one that reached the provider.
  const taken = accepted(running);
  expect(new Set(taken).size).toBe(taken.length);
  expect(rows.map((r) => r.request_id).sort()).toEqual([...taken].sort());
  const upstream = new Set(fake.requests.map((r) => String(r.headers['x-request-id'])));
  expect([...upstream].filter((id) => !byId.has(id))).toEqual([]);
  // A reset request never reached the processor or the provider, and was never billed.
  expect(reset.filter((id) => taken.includes(id) || upstream.has(id) || byId.has(id))).toEqual([]);
  // With a grace period long enough, nothing was cut.
  expect(rows.filter((r) => r.outcome !== 'completed')).toEqual([]);
}, 60000);

test('a short grace period cuts a slow stream: billed as interrupted, with the tokens the provider reported so far', async () => {
  // A provider that reports usage with every chunk (as vLLM's continuous usage stats do) and
  // is slower than the grace period; `gpt-stuck` never answers at all.
  fake.handle(async (req, res) => {
    if (req.json.model === 'gpt-stuck') return void (await new Promise((r) => res.once('close', r)));
    if (req.json.model === 'gpt-big') return sendJson(res, 200, completion(req.json.model, 'z'.repeat(1_000_000), USAGE));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let n = 1; n <= 100 && !res.destroyed; n++) {
      const usage = { prompt_tokens: 9, completion_tokens: n, total_tokens: 9 + n };
      res.write(`data: ${JSON.stringify({ ...chunk(req.json.model, { content: `w${n} ` }), usage })}\n\n`);
      await sleep(100);
    }
    res.end('data: [DONE]\n\n');
  });
  gw = await startGateway({ config: { server: { shutdown_grace_seconds: 1 }, providers: provider(fake), usage: { flush_interval_ms: 1000 } } });
  const running = gw;

  // An HTTP/2 client that stops reading: its 1 MB response cannot leave Envoy (flow control).
  const h2 = http2.connect(running.url);
  const paused = h2.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'cut-unread' });
  let unread = 0;
  paused.on('data', (d: Buffer) => {
    unread += d.length;
    paused.pause();
  });
  const pausedDone = new Promise((r) => paused.on('close', r));
  paused.end(JSON.stringify({ model: 'gpt-big', messages: [{ role: 'user', content: 'hello' }] }));

  let seen = '';
  const streamed = send(running.url, new http.Agent(), 'cut-stream', { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'tell me' }] }, (t) => (seen = t));
  const stuck = send(running.url, new http.Agent(), 'cut-stuck', { model: 'gpt-stuck', messages: [{ role: 'user', content: 'hello' }] });
  await waitFor(() => seen.includes('w3 ') && unread > 0 && fake.requests.some((r) => r.json?.model === 'gpt-stuck'), 5000, 10);
  const t0 = Date.now();
  running.proc.kill('SIGTERM');
  const [streamOut, stuckOut] = await Promise.all([streamed, stuck, pausedDone]);
  h2.destroy();
  expect(await running.exited).toBe(0);
  // Bounded by the grace period (1 s), not by the provider (10 s).
  expect(Date.now() - t0).toBeLessThan(8000);

  // The client got part of the stream, and nothing for the stuck request.
  expect(streamOut).toMatchObject({ status: 200, complete: false });
  expect(stuckOut.complete).toBe(false);
  const lastSeen = Math.max(...[...streamOut.body.matchAll(/"completion_tokens":(\d+)/g)].map((m) => Number(m[1])));
  expect(lastSeen).toBeGreaterThanOrEqual(3);

  expect(unread).toBeGreaterThan(0);
  expect(unread).toBeLessThan(1_000_000);

  const rows = records(running);
  expect(rows).toHaveLength(3);
  const cut = rows.find((r) => r.request_id === 'cut-stream')!;
  expect(cut).toMatchObject({ outcome: 'interrupted', status: 200, prompt_tokens: 9 });
  // At least what the client saw reported: the provider charged for it.
  expect(cut.completion_tokens).toBeGreaterThanOrEqual(lastSeen);
  expect(cut.total_tokens).toBe(9 + cut.completion_tokens);
  expect(rows.find((r) => r.request_id === 'cut-stuck')).toMatchObject({ outcome: 'interrupted', total_tokens: 0 });
  // Answered in full by the gateway, but never delivered: interrupted, and the provider's tokens billed.
  expect(rows.find((r) => r.request_id === 'cut-unread')).toMatchObject({ outcome: 'interrupted', status: 200, total_tokens: USAGE.total_tokens });
}, 60000);

test('the drain waits for a slow reader: a response still in Envoy\'s buffers reaches the client', async () => {
  gw = await startGateway({ config: { server: { shutdown_grace_seconds: 15 } } });
  const running = gw;
  // 8 MB: more than the kernel's socket buffers hold for a client that does not read, so Envoy
  // keeps the rest although the request itself is done.
  const content = 'y'.repeat(8_000_000);
  let res: http.IncomingMessage | undefined;
  let reading = false;
  const chunks: Buffer[] = [];
  const done = new Promise<string>((resolve) => {
    const req = http.request(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'slow-reader' },
    });
    req.on('response', (r) => {
      res = r;
      r.on('data', (d: Buffer) => {
        chunks.push(d);
        if (!reading) r.pause();
      });
      r.on('end', () => resolve('end'));
      r.on('error', (err) => resolve(err.message));
      r.on('aborted', () => resolve('aborted'));
    });
    req.on('error', (err) => resolve(err.message));
    req.end(JSON.stringify({ model: 'echo', messages: [{ role: 'user', content }] }));
  });
  await waitFor(() => chunks.length > 0, 10000, 10);
  // The request is done for Envoy (the body is in its buffers): SIGTERM, then stay away a while.
  running.proc.kill('SIGTERM');
  await waitFor(() => running.logs().some((l) => l.msg?.startsWith('envoy draining')), 5000, 5);
  await sleep(1500);
  expect(running.proc.exitCode).toBeNull();
  reading = true;
  res!.resume();
  expect(await done).toBe('end');
  expect(await running.exited).toBe(0);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  expect(body.choices[0].message.content).toBe(content);
  expect(records(running)).toEqual([expect.objectContaining({ request_id: 'slow-reader', outcome: 'completed', status: 200 })]);
}, 60000);

test('sidecar layout (--no-envoy, Envoy run by deploy/envoy-drain.sh), both stopped at once: Envoy drains and the processor serves it until done', async () => {
  fake.handle((req, res) => answer(req, res, req.json.model === 'gpt-long' ? 1500 : 0));
  gw = await startGateway({
    args: ['--no-envoy'],
    readyPattern: /running without Envoy/,
    config: { server: { shutdown_grace_seconds: 10 }, providers: provider(fake) },
  });
  const running = gw;
  const bootstrap = path.join(running.dir, 'sidecar-envoy.yaml');
  expect(spawnSync(process.execPath, [CLI, 'envoy-config', '-c', running.configFile, '-o', bootstrap]).status).toBe(0);
  const script = path.join(ROOT, 'deploy', 'envoy-drain.sh');
  const env = { ...process.env, ENVOY_BIN: findEnvoy().bin, ENVOY_ADMIN_PORT: String(running.ports.envoyAdmin), SHUTDOWN_GRACE_SECONDS: '10' };
  const proxy = spawn('bash', [script, '-c', bootstrap, '--log-level', 'error', '--concurrency', '1', '--disable-hot-restart'], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  sidecar = proxy;
  let proxyErr = '';
  proxy.stderr!.on('data', (d) => (proxyErr += d));
  const proxyExit = new Promise<number | null>((r) => proxy.on('exit', (code) => r(code)));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${running.ports.envoyAdmin}/ready`)).ok, 15000, 100);

  // A connection left idle by a first request, and a long request in flight.
  const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ask = (agent: http.Agent, id: string, model = 'gpt-4o-mini') => send(running.url, agent, id, { model, messages: [{ role: 'user', content: id }] });
  expect(await ask(idle, 'side-warm')).toMatchObject({ status: 200, complete: true });
  const long = ask(new http.Agent(), 'side-long', 'gpt-long');
  await waitFor(() => fake.requests.some((r) => r.json?.model === 'gpt-long'), 5000, 5);

  // A pod's termination: every container gets SIGTERM at the same time.
  process.kill(proxy.pid!, 'SIGTERM');
  running.proc.kill('SIGTERM');
  await waitFor(() => proxyErr.includes('listeners closed'), 5000, 5);
  expect(await waitFor(async () => ((await connectOnce(running.ports.http)) === 'ECONNREFUSED' ? 'refused' : undefined), 1000, 20)).toBe('refused');
  // Envoy still answers on a connection it had open, so the processor still has to serve it.
  expect(await ask(idle, 'side-late')).toMatchObject({ status: 200, complete: true });
  expect(await long).toMatchObject({ status: 200, complete: true });
  expect(await proxyExit).toBe(0);
  expect(await running.exited).toBe(0);
  idle.destroy();

  const rows = records(running).map((r) => [r.request_id, r.outcome]);
  expect(rows.sort()).toEqual([
    ['side-late', 'completed'],
    ['side-long', 'completed'],
    ['side-warm', 'completed'],
  ]);
}, 60000);
