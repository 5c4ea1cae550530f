import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chat, CLIENT_KEY, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { chunk, completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * The foundation slice end to end: client → real Envoy → ext_proc processor → fake OpenAI
 * upstream on loopback, with plugins loaded from outside the repository's plugins/ folder.
 */

const UPSTREAM_KEY = 'sk-upstream-secret-0123456789';
let fake: FakeOpenAI;
let gw: RunningGateway;
let pluginDir: string;

const CUSTOM_PLUGIN = `
module.exports = {
  name: 'header-stamp',
  configSchema: { type: 'object', properties: { value: { type: 'string', default: 'stamped' } }, additionalProperties: false },
  create(options) {
    return {
      onRequest(ctx) { ctx.setRequestHeader('x-custom-plugin', options.value); },
      onResponseHeaders(ctx) { ctx.setResponseHeader('x-custom-plugin-seen', ctx.target ? ctx.target.provider : 'none'); },
    };
  },
};
`;

const THROWING_PLUGIN = `
module.exports = {
  name: 'exploder',
  create(options) {
    return {
      async onRequest(ctx) {
        const want = ctx.request.headers.get('x-test-explode');
        if (want === options.trigger) throw new Error('kaboom with secret-ish detail');
        if (want === options.trigger + '-slow') await new Promise((r) => setTimeout(r, 2000));
      },
    };
  },
};
`;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-plugins-'));
  fs.writeFileSync(path.join(pluginDir, 'header-stamp.js'), CUSTOM_PLUGIN);
  fs.writeFileSync(path.join(pluginDir, 'exploder.js'), THROWING_PLUGIN);
  gw = await startGateway({
    env: { FAKE_OPENAI_KEY: UPSTREAM_KEY },
    config: {
      providers: [
        { name: 'fake', type: 'openai-compatible', base_url: fake.url, api_key_env: 'FAKE_OPENAI_KEY', models: ['gpt-*'] },
        { name: 'slow', type: 'openai-compatible', base_url: fake.url, api_key_env: 'FAKE_OPENAI_KEY', models: ['slow-*'], timeout_seconds: 0.5 },
      ],
      plugins: testPlugins(
        { use: path.join(pluginDir, 'header-stamp.js'), options: { value: 'from-outside' } },
        { use: path.join(pluginDir, 'exploder.js'), name: 'exploder-closed', on_error: 'fail_closed', timeout_ms: 300, options: { trigger: 'closed' } },
        { use: path.join(pluginDir, 'exploder.js'), name: 'exploder-open', on_error: 'fail_open', timeout_ms: 300, options: { trigger: 'open' } },
      ),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

beforeEach(() => fake.reset());

const body = (extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello gateway' }], ...extra });

test('a non-streaming completion comes back unchanged', async () => {
  const upstreamBody = JSON.stringify(completion('gpt-4o-mini', 'unchanged answer'));
  fake.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(upstreamBody) });
    res.end(upstreamBody);
  });
  const res = await chat(gw.url, body());
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(await res.text()).toBe(upstreamBody);
  expect(fake.requests).toHaveLength(1);
  expect(fake.requests[0].path).toBe('/v1/chat/completions');
  expect(fake.requests[0].json).toEqual(body());
});

test('the provider sees the injected key, never the client key', async () => {
  const res = await chat(gw.url, body(), { 'x-api-key': 'sk-another-client-header' });
  expect(res.status).toBe(200);
  const seen = fake.requests[0].headers;
  expect(seen.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  expect(JSON.stringify(seen)).not.toContain(CLIENT_KEY);
  expect(seen['x-api-key']).toBeUndefined();
  expect(seen['x-gateway-cluster']).toBeUndefined();
});

test('the path without /v1 works too', async () => {
  const res = await fetch(`${gw.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify(body()),
  });
  expect(res.status).toBe(200);
  expect((await res.json()).choices[0].message.content).toBe('echo: hello gateway');
  expect(fake.requests[0].path).toBe('/v1/chat/completions');
});

test('streamed events reach the client one by one, before the upstream has finished', async () => {
  let releaseRest!: () => void;
  const rest = new Promise<void>((r) => (releaseRest = r));
  let upstreamFinished = false;
  fake.handle(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(req.json.model, { role: 'assistant', content: 'first' }))}\n\n`);
    await rest;
    res.write(`data: ${JSON.stringify(chunk(req.json.model, { content: ' second' }))}\n\n`);
    res.write(`data: ${JSON.stringify(chunk(req.json.model, {}, 'stop'))}\n\n`);
    upstreamFinished = true;
    res.end('data: [DONE]\n\n');
  });
  const res = await chat(gw.url, body({ stream: true }));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  expect(upstreamFinished).toBe(false);
  expect(JSON.parse(text.split('\n\n')[0].slice(6)).choices[0].delta.content).toBe('first');
  releaseRest();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const events = text.trim().split('\n\n');
  expect(events).toHaveLength(4);
  expect(events[3]).toBe('data: [DONE]');
  expect(upstreamFinished).toBe(true);
});

test('a plugin loaded from a path outside plugins/ changes what the upstream sees', async () => {
  const res = await chat(gw.url, body());
  expect(res.status).toBe(200);
  expect(fake.requests[0].headers['x-custom-plugin']).toBe('from-outside');
  expect(res.headers.get('x-custom-plugin-seen')).toBe('fake');
});

test('a throwing fail_closed plugin gives a JSON 500 that names it, and the upstream is not called', async () => {
  const res = await chat(gw.url, body(), { 'x-test-explode': 'closed' });
  expect(res.status).toBe(500);
  const err = await res.json();
  expect(err.error.code).toBe('plugin_error');
  expect(err.error.type).toBe('server_error');
  expect(err.error.message).toContain('exploder-closed');
  expect(err.error.message).not.toContain('kaboom');
  expect(fake.requests).toHaveLength(0);
  // Logs are written off the request path: wait for the line rather than racing it.
  const line = await waitFor(() => gw.logs().find((l) => l.plugin === 'exploder-closed' && l.hook === 'onRequest'));
  expect(line.err.message).toContain('kaboom');
});

test('a throwing fail_open plugin is skipped', async () => {
  const res = await chat(gw.url, body(), { 'x-test-explode': 'open' });
  expect(res.status).toBe(200);
  expect(fake.requests).toHaveLength(1);
  await waitFor(() => gw.logs().some((l) => l.plugin === 'exploder-open' && l.policy === 'fail_open'));
});

test('a plugin that exceeds its timeout fails by its policy', async () => {
  const closed = await chat(gw.url, body(), { 'x-test-explode': 'closed-slow' });
  expect(closed.status).toBe(500);
  expect((await closed.json()).error).toMatchObject({ code: 'plugin_timeout', message: expect.stringContaining('exploder-closed') });
  const open = await chat(gw.url, body(), { 'x-test-explode': 'open-slow' });
  expect(open.status).toBe(200);
});

test('a 20 MiB body gets a JSON 413 from Envoy, and a 9 MiB one passes', async () => {
  const huge = JSON.stringify(body({ messages: [{ role: 'user', content: 'x'.repeat(20 * 1024 * 1024) }] }));
  const res = await chat(gw.url, huge);
  expect(res.status).toBe(413);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect((await res.json()).error).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error' });
  expect(fake.requests).toHaveLength(0);

  const big = JSON.stringify(body({ messages: [{ role: 'user', content: 'y'.repeat(9 * 1024 * 1024) }] }));
  const ok = await chat(gw.url, big);
  expect(ok.status).toBe(200);
  expect(fake.requests[0].body.length).toBe(Buffer.byteLength(big));
});

test('malformed JSON gets a JSON 400', async () => {
  const res = await chat(gw.url, '{"model": "gpt-4o-mini", "messages": [');
  expect(res.status).toBe(400);
  const err = await res.json();
  expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
  expect(fake.requests).toHaveLength(0);
});

test.each([
  ['no key', {}, 401, 'missing_api_key'],
  ['a wrong key', { authorization: 'Bearer sk-not-a-real-key' }, 401, 'invalid_api_key'],
])('%s gets an OpenAI-style 401', async (_name, headers, status, code) => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body()),
  });
  expect(res.status).toBe(status);
  expect((await res.json()).error.code).toBe(code);
});

test('missing model, unknown model and unknown paths get precise JSON errors', async () => {
  const noModel = await chat(gw.url, { messages: [] });
  expect(noModel.status).toBe(400);
  expect((await noModel.json()).error).toMatchObject({ param: 'model', code: 'missing_required_parameter' });

  const unknown = await chat(gw.url, body({ model: 'no-such-model' }));
  expect(unknown.status).toBe(404);
  expect((await unknown.json()).error).toMatchObject({ code: 'model_not_found', param: 'model' });

  const path404 = await fetch(`${gw.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect(path404.status).toBe(404);
  // As OpenAI answers an unknown URL: 404, invalid_request_error.
  expect((await path404.json()).error).toMatchObject({ code: 'unknown_url', type: 'invalid_request_error' });
  const admin404 = await fetch(`${gw.url}/v1/keys/nothing/here`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect(admin404.status).toBe(404);
  expect((await admin404.json()).error).toMatchObject({ code: 'unknown_url', type: 'invalid_request_error' });
});

test('upstream errors pass through with their status and JSON', async () => {
  fake.handle((_req, res) => sendJson(res, 429, { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }));
  const res = await chat(gw.url, body());
  expect(res.status).toBe(429);
  expect((await res.json()).error.code).toBe('rate_limit_exceeded');
});

test("a provider slower than its timeout gets Envoy's 504, rewritten as OpenAI JSON", async () => {
  fake.handle(async (req, res) => {
    await new Promise((r) => setTimeout(r, 1500));
    sendJson(res, 200, completion(req.json.model, 'too late'));
  });
  const res = await chat(gw.url, body({ model: 'slow-1' }));
  expect(res.status).toBe(504);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect((await res.json()).error).toMatchObject({ code: 'timeout', type: 'server_error' });
});

test("a client's x-envoy-* headers cannot steer Envoy (here: a 1 ms upstream timeout)", async () => {
  fake.handle(async (req, res) => {
    await new Promise((r) => setTimeout(r, 200));
    sendJson(res, 200, completion(req.json.model, 'in time'));
  });
  const res = await chat(gw.url, body(), { 'x-envoy-upstream-rq-timeout-ms': '1', 'x-envoy-max-retries': '7' });
  expect(res.status).toBe(200);
  expect(fake.requests[0].headers['x-envoy-max-retries']).toBeUndefined();
});

test('/health and /metrics are reachable through Envoy', async () => {
  const health = await fetch(`${gw.url}/health`);
  expect(health.status).toBe(200);
  const h = await health.json();
  expect(h).toMatchObject({ status: 'healthy', envoy: { state: 'live' }, providers: { fake: { healthy: true } } });
  expect(typeof h.timestamp).toBe('string');

  await chat(gw.url, body());
  const metrics = await fetch(`${gw.url}/metrics`);
  expect(metrics.status).toBe(200);
  const text = await metrics.text();
  expect(text).toMatch(/gateway_requests_total\{provider="fake",model="gpt-4o-mini",endpoint="chat.completions",status="200"\} \d+/);
  expect(text).toMatch(/gateway_tokens_total\{provider="fake",model="gpt-4o-mini",kind="prompt"\} \d+/);
  expect(text).not.toContain(UPSTREAM_KEY);
  expect(text).not.toContain(CLIENT_KEY);
});

test('one JSON log line per request with id, model, provider, status, duration and tokens, and no key', async () => {
  const res = await chat(gw.url, body(), { 'x-request-id': 'req-log-check-1' });
  expect(res.status).toBe(200);
  const line = await waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.request_id === 'req-log-check-1'));
  expect(line).toMatchObject({ model: 'gpt-4o-mini', provider: 'fake', status: 200, prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
  expect(typeof line!.duration_ms).toBe('number');
  expect(gw.logs().filter((l) => l.request_id === 'req-log-check-1' && l.msg === 'request')).toHaveLength(1);
  expect(res.headers.get('x-request-id')).toBe('req-log-check-1');
  expect(gw.output()).not.toContain(UPSTREAM_KEY);
  expect(gw.output()).not.toContain(CLIENT_KEY);
});
