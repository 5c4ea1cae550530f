import { chat, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { chunk, completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';

/**
 * Fallbacks across providers through real Envoy: a primary (OpenAI wire format) that answers
 * 503 or 429, or does not answer in time, is followed by its fallback on Anthropic, translated
 * natively for that attempt; the client sees one clean OpenAI response from the fallback.
 */

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gw: RunningGateway;

beforeAll(async () => {
  openai = await startFakeOpenAI();
  anthropic = await startFakeAnthropic({ apiKey: 'sk-anthropic-fallback' });
  gw = await startGateway({
    config: {
      providers: [
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-primary', models: ['gpt-*'] },
        { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-anthropic-fallback', models: ['claude-*'] },
      ],
      fallbacks: [{ model: 'gpt-4o', fallback_models: ['claude-sonnet-4-5'], on: [429, 503, 'timeout'] }],
      routing: { per_try_timeout_seconds: 1, retries: 1 },
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await openai?.close();
  await anthropic?.close();
});

beforeEach(() => {
  openai.reset();
  anthropic.reset();
});

const ask = (extra: object = {}, headers: Record<string, string> = {}) =>
  chat(gw.url, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello fallback' }], ...extra }, headers);

test.each([
  ['503', (res: any) => sendJson(res, 503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } })],
  ['429', (res: any) => sendJson(res, 429, { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } })],
  ['a timeout', async (res: any) => {
    await new Promise((r) => setTimeout(r, 2500));
    if (!res.destroyed) sendJson(res, 200, completion('gpt-4o', 'too late'));
  }],
])('a primary answering %s is followed by the fallback on another provider', async (_name, primary) => {
  openai.handle((_req, res) => primary(res));
  const res = await ask({}, { 'x-request-id': `fallback-${_name}` });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('anthropic/claude-sonnet-4-5');
  expect(res.headers.get('x-gateway-provider')).toBe('anthropic');
  const body = await res.json();
  expect(body.object).toBe('chat.completion');
  expect(body.choices[0].message.content).toBe('echo: hello fallback');
  expect(body.model).toMatch(/^claude-sonnet-4-5/);
  // Each attempt went to its own provider in its own wire format with its own credential.
  expect(openai.requests).toHaveLength(1);
  expect(openai.requests[0].headers.authorization).toBe('Bearer sk-openai-primary');
  expect(anthropic.requests).toHaveLength(1);
  expect(anthropic.requests[0].headers['x-api-key']).toBe('sk-anthropic-fallback');
  expect(anthropic.requests[0].headers.authorization).toBeUndefined();
  expect(anthropic.requests[0].json.model).toBe('claude-sonnet-4-5');
  expect(anthropic.requests[0].json.messages[0].role).toBe('user');
  expect(anthropic.requests[0].json.max_tokens).toBeGreaterThan(0);
  // Usage is recorded for the model that served.
  const line = await waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.request_id === `fallback-${_name}`));
  expect(line).toMatchObject({ provider: 'anthropic', upstream_model: 'claude-sonnet-4-5', status: 200 });
  expect(line.total_tokens).toBeGreaterThan(0);
});

test('a healthy primary serves without touching the fallback', async () => {
  const res = await ask();
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('openai/gpt-4o');
  expect(anthropic.requests).toHaveLength(0);
});

test('a streamed request falls back before the first byte and streams cleanly from the fallback', async () => {
  openai.handle((_req, res) => sendJson(res, 503, { error: { message: 'down', type: 'server_error', param: null, code: null } }));
  const res = await ask({ stream: true });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('anthropic/claude-sonnet-4-5');
  const events = (await res.text()).trim().split('\n\n').map((e) => e.slice(6));
  expect(events.at(-1)).toBe('[DONE]');
  const text = events.slice(0, -1).map((e) => JSON.parse(e)).map((c) => c.choices[0]?.delta?.content ?? '').join('');
  expect(text).toBe('echo: hello fallback');
});

test('once a stream has started there is no retry: a failure mid-stream reaches the client as it is', async () => {
  openai.handle(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(req.json.model, { role: 'assistant', content: 'partial' }))}\n\n`);
    await new Promise((r) => setTimeout(r, 50));
    res.destroy();
  });
  const res = await ask({ stream: true });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('openai/gpt-4o');
  await res.text().catch(() => '');
  expect(anthropic.requests).toHaveLength(0);
});

test('without a fallback rule, a 429 is retried on the same provider after its retry-after', async () => {
  let calls = 0;
  openai.handle((req, res) => {
    calls++;
    if (calls === 1) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } }));
    } else sendJson(res, 200, completion(req.json.model, 'second time lucky'));
  });
  const started = Date.now();
  const res = await chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-attempts')).toBe('2');
  expect((await res.json()).choices[0].message.content).toBe('second time lucky');
  expect(calls).toBe(2);
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
});
