import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { CLIENT_KEY, chat, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { freePorts } from '../helpers/ports';

/**
 * The response cache through real Envoy: hits answered by the processor before anything goes
 * upstream, in the shape the client asked for (the official Python SDK consumes the replayed
 * streams), per team, with TTLs, Cache-Control, usage records flagged cached, and Redis shared by
 * two replicas or failing without holding requests up.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const QA2_KEY = 'sk-cache-qa-second';
const OPS_KEY = 'sk-cache-ops';
const RUN = crypto.randomBytes(4).toString('hex');

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake?.close());

const provider = () => ({ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] });
const keys = {
  entries: {
    [CLIENT_KEY]: { name: 'test-key', user: 'tester', team: 'qa' },
    [QA2_KEY]: { name: 'qa-2', user: 'other', team: 'qa' },
    [OPS_KEY]: { name: 'ops', user: 'op', team: 'ops' },
  },
};
const cache = (options: Record<string, unknown> = {}) => ({ use: 'response-cache', options: { enabled: true, redis_url: '', ...options } });

/** A question no other test asks. */
let seq = 0;
const question = (label: string) => `${label} ${RUN} ${++seq}`;
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
/** How many requests asking `content` reached the provider. */
const upstreamCalls = (content: string) => fake.requests.filter((r) => JSON.stringify(r.json?.messages ?? null).includes(content)).length;

async function metric(gw: RunningGateway, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await (await fetch(`${gw.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

describe('in-process cache', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      config: {
        providers: [provider()],
        keys,
        pricing: { models: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } } },
        // Request rules only: the cache runs after them, and response rules would bypass it.
        security: { content_filters: [{ name: 'cache-test', rules: [{ name: 'block-verboten', target: 'request', keywords: ['verboten'], action: 'block' }] }] },
        plugins: testPlugins(cache({ models: { 'gpt-short*': { ttl_seconds: 1 } } })),
      },
    });
  });
  afterAll(() => gw?.stop());

  test('a repeat is answered by the gateway: the provider is asked once, the client gets the same answer', async () => {
    const q = question('hello');
    const first = await chat(gw.url, ask(q));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-gateway-cache')).toBe('miss');
    const live = await first.json();

    // Fields that do not change the answer do not change the key.
    const second = await chat(gw.url, ask(q, { user: 'someone', metadata: { a: 'b' } }));
    expect(second.status).toBe(200);
    expect(second.headers.get('x-gateway-cache')).toBe('hit');
    expect(second.headers.get('content-type')).toBe('application/json');
    expect(await second.json()).toEqual(live);
    expect(upstreamCalls(q)).toBe(1);

    // Anything that does change it is a different entry.
    expect((await chat(gw.url, ask(q, { temperature: 0.2 }))).headers.get('x-gateway-cache')).toBe('miss');
    expect(upstreamCalls(q)).toBe(2);
  });

  test('entries expire after their model’s TTL', async () => {
    const q = question('short-lived');
    const body = { ...ask(q), model: 'gpt-short-1' };
    expect((await chat(gw.url, body)).headers.get('x-gateway-cache')).toBe('miss');
    expect((await chat(gw.url, body)).headers.get('x-gateway-cache')).toBe('hit');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await chat(gw.url, body)).headers.get('x-gateway-cache')).toBe('miss');
    expect(upstreamCalls(q)).toBe(2);
  });

  test('teams never share entries; keys of one team do', async () => {
    const q = question('tenant');
    expect((await chat(gw.url, ask(q))).headers.get('x-gateway-cache')).toBe('miss');
    expect((await chat(gw.url, ask(q), { authorization: `Bearer ${QA2_KEY}` })).headers.get('x-gateway-cache')).toBe('hit');
    expect((await chat(gw.url, ask(q), { authorization: `Bearer ${OPS_KEY}` })).headers.get('x-gateway-cache')).toBe('miss');
    expect((await chat(gw.url, ask(q), { authorization: `Bearer ${OPS_KEY}` })).headers.get('x-gateway-cache')).toBe('hit');
    expect(upstreamCalls(q)).toBe(2);
  });

  test('Cache-Control: no-cache refreshes the entry, no-store neither reads nor writes', async () => {
    const q = question('control');
    await (await chat(gw.url, ask(q))).text();
    const refreshed = await chat(gw.url, ask(q), { 'cache-control': 'no-cache' });
    expect(refreshed.headers.get('x-gateway-cache')).toBe('miss');
    expect(upstreamCalls(q)).toBe(2);
    expect((await chat(gw.url, ask(q))).headers.get('x-gateway-cache')).toBe('hit');

    const p = question('private');
    expect((await chat(gw.url, ask(p), { 'cache-control': 'no-store' })).headers.get('x-gateway-cache')).toBe('miss');
    expect((await chat(gw.url, ask(p))).headers.get('x-gateway-cache')).toBe('miss');
    expect((await chat(gw.url, ask(q), { 'cache-control': 'no-store' })).headers.get('x-gateway-cache')).toBe('miss');
    expect(upstreamCalls(p)).toBe(2);
    expect(upstreamCalls(q)).toBe(3);
  });

  test('a request the content filter blocks is never answered from the cache', async () => {
    const q = question('verboten');
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw.url, ask(q));
      expect(r.status).toBe(400);
      expect((await r.json()).error.code).toBe('content_filtered');
      expect(r.headers.get('x-gateway-cache')).toBeNull();
    }
    expect(upstreamCalls(q)).toBe(0);
  });

  test('errors are never stored', async () => {
    const q = question('failing');
    fake.handle((req, res) => {
      if (JSON.stringify(req.json?.messages).includes(q)) {
        sendJson(res, 400, { error: { message: 'context too long', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } });
      } else sendJson(res, 200, completion(req.json?.model ?? 'x', 'ok'));
    });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await chat(gw.url, ask(q));
        expect(r.status).toBe(400);
        expect(r.headers.get('x-gateway-cache')).toBe('miss');
        expect((await r.json()).error.code).toBe('context_length_exceeded');
      }
      expect(upstreamCalls(q)).toBe(2);
    } finally {
      fake.handle(undefined);
    }
  });

  test('a hit is a usage record flagged cached, with the cached tokens and no cost', async () => {
    const q = question('billing');
    const live = await chat(gw.url, ask(q), { 'x-request-id': `live-${q}` });
    expect(live.headers.get('x-gateway-cache')).toBe('miss');
    await live.text();
    const hit = await chat(gw.url, ask(q), { 'x-request-id': `hit-${q}` });
    expect(hit.headers.get('x-gateway-cache')).toBe('hit');
    await hit.text();

    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = await waitFor(() => {
        const r = db.prepare('SELECT request_id, cached, cost_usd, total_tokens, status, outcome, streamed FROM usage_records WHERE request_id IN (?, ?) ORDER BY time').all(`live-${q}`, `hit-${q}`);
        return r.length === 2 ? r : undefined;
      });
      expect(rows).toEqual([
        { request_id: `live-${q}`, cached: 0, cost_usd: expect.closeTo((9 * 0.15 + 3 * 0.6) / 1e6, 12), total_tokens: 12, status: 200, outcome: 'completed', streamed: 0 },
        { request_id: `hit-${q}`, cached: 1, cost_usd: 0, total_tokens: 12, status: 200, outcome: 'responded', streamed: 0 },
      ]);
    } finally {
      db.close();
    }
    expect(await metric(gw, /^gateway_response_cache_lookups_total\{backend="memory",result="hit"\} (\d+)/m)).toBeGreaterThan(0);
    expect(await metric(gw, /^gateway_response_cache_lookups_total\{backend="memory",result="miss"\} (\d+)/m)).toBeGreaterThan(0);
    expect(await metric(gw, /^gateway_response_cache_bytes_total\{backend="memory",op="stored"\} (\d+)/m)).toBeGreaterThan(0);
  });

  test('the cache’s metrics pass promtool check metrics (when promtool is installed)', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const family of ['lookups', 'stores', 'bytes']) expect(text).toContain(`# TYPE gateway_response_cache_${family}_total counter`);
    if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status !== 0) return;
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.split('\n').filter((l) => l.includes('response_cache'))).toEqual([]);
  });

  test('streams are replayed as SSE and consumed by the official OpenAI Python SDK', async () => {
    const env = { ...process.env, GATEWAY_URL: gw.url, CACHE_KEY: CLIENT_KEY, RUN_ID: `${RUN}-py` };
    const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/response_cache_check.py')], { env, timeout: 60000 }).catch((e) => e);
    const out = `${run.stdout}${run.stderr}`;
    expect(out).toMatch(/^4 passed, 0 failed$/m);
    expect(run.code ?? 0).toBe(0);
    // Each of the four questions went upstream once: every second answer came from the cache.
    for (const q of ['replay me', 'usage please', 'stream first', 'weather in Paris?']) expect(upstreamCalls(`${q} ${RUN}-py`)).toBe(1);
  });

  test('a replayed stream read raw: chunks, the usage chunk when asked for, then [DONE]', async () => {
    const q = question('raw stream');
    await (await chat(gw.url, ask(q))).text();
    const r = await chat(gw.url, ask(q, { stream: true, stream_options: { include_usage: true } }));
    expect(r.headers.get('x-gateway-cache')).toBe('hit');
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    const events = (await r.text()).trim().split('\n\n').map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(`echo: ${q}`);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 12 } });
    expect(upstreamCalls(q)).toBe(1);
  });
});

describe('off by default', () => {
  test('listed without options, nothing is cached and no header is added', async () => {
    const gw = await startGateway({ config: { providers: [provider()], plugins: testPlugins({ use: 'response-cache', options: { redis_url: '' } }) } });
    try {
      const q = question('default off');
      for (let i = 0; i < 2; i++) {
        const r = await chat(gw.url, ask(q));
        expect(r.status).toBe(200);
        expect(r.headers.get('x-gateway-cache')).toBeNull();
      }
      expect(upstreamCalls(q)).toBe(2);
    } finally {
      await gw.stop();
    }
  });
});

/** A TCP proxy to Redis that can be frozen: connected, but nothing gets through any more. */
async function freezableProxy(target: string): Promise<{ url: string; freeze(): void; close(): Promise<void> }> {
  const t = new URL(target);
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(t.port), t.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => void (frozen || upstream.write(d)));
    upstream.on('data', (d) => void (frozen || client.write(d)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => void (frozen = true),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const redisUrl = process.env.TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('Redis', () => {
  test('two replicas share entries: a miss on one is a hit on the other', async () => {
    const config = { providers: [provider()], keys, plugins: testPlugins(cache({ redis_url: redisUrl, redis_prefix: `test-cache-${RUN}:` })) };
    const [a, b] = await Promise.all([startGateway({ config }), startGateway({ config })]);
    try {
      const q = question('replicated');
      expect((await chat(a.url, ask(q))).headers.get('x-gateway-cache')).toBe('miss');
      // The write is off the request path: wait until the other replica sees it.
      const hit = await waitFor(async () => {
        const r = await chat(b.url, ask(q, { stream: true }));
        const text = await r.text();
        return r.headers.get('x-gateway-cache') === 'hit' ? text : undefined;
      }, 5000);
      expect(hit.trim().endsWith('data: [DONE]')).toBe(true);
      const events = hit.trim().split('\n\n').map((e) => e.replace(/^data: /, '')).filter((e) => e !== '[DONE]');
      expect(events.map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '').join('')).toBe(`echo: ${q}`);
      expect(upstreamCalls(q)).toBe(1);
      const other = await chat(b.url, ask(q), { authorization: `Bearer ${OPS_KEY}` });
      expect(other.headers.get('x-gateway-cache')).toBe('miss');
      expect(a.logs().find((l) => l.msg === 'response cache')).toMatchObject({ backend: 'redis' });
      expect(await metric(b, /^gateway_response_cache_lookups_total\{backend="redis",result="hit"\} (\d+)/m)).toBe(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('Redis unreachable or hanging: requests are served uncached, promptly, and the errors are counted', async () => {
    const proxy = await freezableProxy(redisUrl!);
    const [closedPort] = await freePorts(1);
    const config = (url: string) => ({ providers: [provider()], keys, plugins: testPlugins(cache({ redis_url: url, redis_prefix: `test-cache-${RUN}-down:`, redis_timeout_ms: 100 })) });
    const [hanging, refused] = await Promise.all([startGateway({ config: config(proxy.url) }), startGateway({ config: config(`redis://127.0.0.1:${closedPort}`) })]);
    try {
      const q = question('outage');
      // Through the proxy Redis works first...
      await waitFor(async () => (await chat(hanging.url, ask(q))).headers.get('x-gateway-cache') === 'hit', 5000);
      const before = upstreamCalls(q);
      // ...then it hangs: every command times out.
      proxy.freeze();
      for (const gw of [hanging, refused]) {
        for (let i = 0; i < 3; i++) {
          const t0 = Date.now();
          const r = await chat(gw.url, ask(q));
          expect(r.status).toBe(200);
          expect(r.headers.get('x-gateway-cache')).toBe('miss');
          expect((await r.json()).choices[0].message.content).toBe(`echo: ${q}`);
          expect(Date.now() - t0).toBeLessThan(1500);
        }
        await waitFor(async () => (await metric(gw, /^gateway_response_cache_errors_total\{backend="redis",op="get"\} (\d+)/m)) >= 3, 5000);
      }
      expect(upstreamCalls(q)).toBe(before + 6);
      expect(hanging.logs().some((l) => l.msg === 'response cache unavailable: serving uncached')).toBe(true);
    } finally {
      await Promise.all([hanging.stop(), refused.stop()]);
      await proxy.close();
    }
  });
});
