import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { buildRequest, parseResponse, rawRequest, type HttpRequestSpec, type RawReply } from '../helpers/raw-http';

/**
 * Admin request bodies: the caller is authenticated before the body is read (anonymous writes
 * are refused unread), bodies have their own small limit (Envoy per route and the admin server),
 * and nothing sent on one connection delays a request on another: oversized anonymous bodies
 * once left a pooled Envoy → admin server connection wedged, and the next admin request sent on
 * it waited 6 s for a 503.
 */

const ADMIN = 'sk-admin-bodies-0123456789abcdef';
const MiB = 1024 * 1024;
const LIMIT = 64 * 1024;

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway({ config: { keys: { admin: [{ key: ADMIN, id: 'root' }] }, plugins: testPlugins() } });
});

afterAll(async () => {
  await gw?.stop();
});

const json = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...extra });
const asAdmin = { authorization: `Bearer ${ADMIN}` };
/** A JSON body of `size` bytes. */
const bodyOf = (size: number) => `{"user":"${'x'.repeat(size - 12)}"}`;

function expectOpenAIError(r: RawReply, status: number | number[], code?: string): void {
  expect([status].flat()).toContain(r.status);
  expect(r.headers['content-type']).toMatch(/application\/json/);
  const { error } = JSON.parse(r.body.toString('utf8'));
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (code) expect(error.code).toBe(code);
}

/** The oversized anonymous requests the rounds cycle through: several routes, both framings. */
function oversized(round: number): HttpRequestSpec {
  const body = bodyOf(2 * MiB);
  const specs: HttpRequestSpec[] = [
    { method: 'POST', path: '/v1/keys', headers: json(), body },
    { method: 'PUT', path: '/v1/security/config', headers: json(), body },
    { method: 'POST', path: '/v1/providers', headers: json({ authorization: 'Bearer sk-not-a-real-key' }), body },
    // Chunked: no content-length to refuse it by.
    { method: 'PATCH', path: '/v1/keys/some-key', headers: json({ 'transfer-encoding': 'chunked' }), noContentLength: true, body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` },
  ];
  return specs[round % specs.length];
}

test('20 rounds of oversized anonymous admin bodies never delay /health or authenticated admin calls', async () => {
  const host = `127.0.0.1:${gw.ports.http}`;
  // The first /health warms up the processor's own connections to Envoy's admin API.
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  const slow: string[] = [];
  const stalled: string[] = [];
  for (let round = 0; round < 20; round++) {
    const big = rawRequest(gw.ports.http, buildRequest(oversized(round), host), 15000);
    const started = performance.now();
    const health = await fetch(`${gw.url}/health`);
    const healthMs = performance.now() - started;
    expect(health.status).toBe(200);
    await health.arrayBuffer();
    if (healthMs >= 100) slow.push(`round ${round}: /health took ${Math.round(healthMs)} ms`);
    if (healthMs >= 1000) stalled.push(`round ${round}: /health took ${Math.round(healthMs)} ms`);

    const keys = await fetch(`${gw.url}/v1/keys`, { headers: asAdmin });
    expect(keys.status).toBe(200);
    await keys.arrayBuffer();
    expectOpenAIError(await big, [401, 413]);
  }
  // A body read before authentication would delay every round; a busy machine (a CI neighbour)
  // may delay one or two by itself, but never by a second.
  expect(stalled).toEqual([]);
  expect(slow.length).toBeLessThanOrEqual(2);
});

test('through Envoy: anonymous bodies within the limit get 401, bodies over it 413, admins still write', async () => {
  const host = `127.0.0.1:${gw.ports.http}`;
  const send = (spec: HttpRequestSpec) => rawRequest(gw.ports.http, buildRequest(spec, host));
  expectOpenAIError(await send({ method: 'POST', path: '/v1/keys', headers: json(), body: bodyOf(LIMIT - 100) }), 401, 'missing_api_key');
  expectOpenAIError(await send({ method: 'POST', path: '/v1/keys', headers: json(asAdmin), body: bodyOf(LIMIT + 100) }), 413, 'request_too_large');
  const created = await send({ method: 'POST', path: '/v1/keys', headers: json(asAdmin), body: JSON.stringify({ user: 'body-test' }) });
  expect(created.status).toBe(201);
  expect(JSON.parse(created.body.toString()).user).toBe('body-test');
});

/** Sends `requests` on one keep-alive connection, in order, and reads as many answers. */
function onOneConnection(port: number, requests: Buffer[], timeoutMs = 5000): Promise<RawReply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const replies: RawReply[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${replies.length} of ${requests.length} answers within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => requests.forEach((r) => socket.write(r)));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let r = parseResponse(buf, false); r; r = parseResponse(buf, false)) {
        replies.push(r);
        buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4 + r.body.length);
      }
      if (replies.length === requests.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(replies);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** An HTTP/1.1 request that keeps its connection open (buildRequest's say `connection: close`). */
const keepAlive = (spec: HttpRequestSpec) => Buffer.from(buildRequest(spec, 'admin').toString('latin1').replace('connection: close\r\n', ''), 'latin1');

describe('the admin server itself (its port, without Envoy)', () => {
  test('an anonymous write is refused with 401 before its body is sent', async () => {
    const head = keepAlive({ method: 'POST', path: '/v1/keys', headers: json({ 'content-length': '5000' }) });
    const [reply] = await onOneConnection(gw.ports.admin, [head], 3000);
    expectOpenAIError(reply, 401, 'missing_api_key');
  });

  test('an admin write declaring more than the limit is refused with 413 before its body is sent', async () => {
    const head = keepAlive({ method: 'POST', path: '/v1/keys', headers: json({ ...asAdmin, 'content-length': String(2 * MiB) }) });
    const [reply] = await onOneConnection(gw.ports.admin, [head], 3000);
    expectOpenAIError(reply, 413, 'request_too_large');
  });

  test('after a refused oversized body the same connection answers the next request at once', async () => {
    const requests = [
      keepAlive({ method: 'POST', path: '/v1/keys', headers: json(), body: bodyOf(2 * MiB) }),
      keepAlive({ method: 'POST', path: '/v1/keys', headers: json(asAdmin), body: bodyOf(2 * MiB) }),
      keepAlive({ path: '/health' }),
    ];
    const [anonymous, tooLarge, health] = await onOneConnection(gw.ports.admin, requests, 3000);
    expectOpenAIError(anonymous, 401, 'missing_api_key');
    expectOpenAIError(tooLarge, 413, 'request_too_large');
    expect(health.status).toBe(200);
  });
});
