import { chat, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, chunk, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * Global rate limits end to end: real Envoy calling the processor's RateLimitService, counters
 * in the processor (no Redis), a fake OpenAI upstream reporting known token usage.
 */

let fake: FakeOpenAI;
let gw: RunningGateway;

/** 400 tokens per request (300 prompt + 100 completion), streamed or not. */
const USAGE = { prompt_tokens: 300, completion_tokens: 100, total_tokens: 400 };

beforeAll(async () => {
  fake = await startFakeOpenAI();
  fake.handle((req, res) => {
    const body = req.json ?? {};
    if (!body.stream) return sendJson(res, 200, completion(body.model, 'hello', USAGE));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(body.model, { role: 'assistant', content: 'hel' }))}\n\n`);
    res.write(`data: ${JSON.stringify(chunk(body.model, { content: 'lo' }, 'stop'))}\n\n`);
    if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...chunk(body.model, {}), choices: [], usage: USAGE })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  gw = await startGateway({
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
      plugins: testPlugins({ use: 'rate-limit-descriptors' }),
      rate_limits: {
        rules: [
          { name: 'rpm', match: { key: '*', model: 'gpt-4o-mini' }, requests_per_minute: 10 },
          { name: 'tpm', match: { key: '*', model: 'gpt-4o' }, tokens_per_minute: 1000 },
        ],
      },
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const ask = (model: string, extra: object = {}) => chat(gw.url, { model, messages: [{ role: 'user', content: 'hi' }], ...extra });

async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

test('10 requests per minute: of 25 quick requests exactly 10 succeed and 15 get an OpenAI 429 with retry-after and x-ratelimit-*', async () => {
  const before = fake.requests.length;
  const responses = await Promise.all(Array.from({ length: 25 }, () => ask('gpt-4o-mini')));
  const bodies = await Promise.all(responses.map((r) => r.json()));
  const ok = responses.filter((r) => r.status === 200);
  const refused = responses.map((r, i) => ({ r, body: bodies[i] })).filter(({ r }) => r.status === 429);
  expect(ok).toHaveLength(10);
  expect(refused).toHaveLength(15);
  expect(fake.requests.length - before).toBe(10);

  // The successes count down the caller's remaining requests, in OpenAI's header names.
  expect(ok.map((r) => r.headers.get('x-ratelimit-limit-requests'))).toEqual(Array(10).fill('10'));
  expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  for (const { r, body } of refused) {
    expect(r.headers.get('content-type')).toBe('application/json');
    const retry = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(Number(r.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(r.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(r.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+(\.\d+)?s|1m0s)$/);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error', param: null });
    expect(body.error.message).toMatch(/rpm: limit 10 requests per minute/);
  }
  // The upstream never sees the gateway's internal metadata or headers.
  for (const req of fake.requests) expect(Object.keys(req.headers).filter((h) => h.startsWith('x-gateway'))).toEqual([]);
  expect(await metric(/gateway_ratelimit_decisions_total\{rule="rpm",decision="over_limit"\} (\d+)/)).toBe(15);

  // Envoy's own rate limit filter stats count the same decisions.
  const stats = await (await fetch(`http://127.0.0.1:${gw.ports.envoyAdmin}/stats?filter=ratelimit`)).text();
  expect(stats).toMatch(/cluster\.provider_openai\.ratelimit\.over_limit: 15/);
});

test('1,000 tokens per minute: the request after the one that crossed it is refused, streamed usage counted exactly', async () => {
  const charged = () => metric(/gateway_ratelimit_decisions_total\{rule="tpm",decision="charged"\} (\d+)/);
  const remaining: (string | null)[] = [];
  for (let i = 0; i < 3; i++) {
    // Streams whose clients did not ask for usage: the gateway asks the provider and counts it.
    const r = await ask('gpt-4o', i < 2 ? { stream: true } : {});
    expect(r.status).toBe(200);
    const text = await r.text();
    if (i < 2) expect(text).not.toContain('"usage"');
    remaining.push(r.headers.get('x-ratelimit-remaining-tokens'));
    // Usage is charged when the stream ends, just after the client has its last byte.
    await waitFor(async () => (await charged()) >= i + 1, 5000);
  }
  // Checked before each request: nothing, then 400, then 800 tokens used.
  expect(remaining).toEqual(['1000', '600', '200']);

  const over = await ask('gpt-4o', { stream: true });
  expect(over.status).toBe(429);
  expect(over.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
  expect(over.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
  expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = await over.json();
  expect(body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
  expect(body.error.message).toContain('tpm: limit 1000 tokens per minute, used 1200');
  expect(fake.requests.filter((r) => r.json?.model === 'gpt-4o')).toHaveLength(3);
  // Limits are per key and model: the other model is unaffected by the token limit.
  expect((await ask('gpt-4o-mini')).status).toBe(429);
});

test('the local limit caps each instance; admin routes are exempt', async () => {
  const local = await startGateway({
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
      rate_limits: { local: { requests_per_second: 1, burst: 3 } },
    },
  });
  try {
    const responses = await Promise.all(Array.from({ length: 10 }, () => chat(local.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(4);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await refused.json()).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    const health = await Promise.all(Array.from({ length: 10 }, () => fetch(`${local.url}/health`)));
    expect(health.map((r) => r.status)).toEqual(Array(10).fill(200));
  } finally {
    await local.stop();
  }
});

test('a request no rule can apply to makes no rate limit call at all; one a rule matches does', async () => {
  const calls = async () => {
    const stats = await (await fetch(`http://127.0.0.1:${gw.ports.envoyAdmin}/stats?filter=ratelimit\\.(ok|over_limit|error)$`)).text();
    return [...stats.matchAll(/: (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const before = await calls();
  // No rule names gpt-3.5-turbo, and the hourly quota is off in these tests.
  for (let i = 0; i < 3; i++) expect((await ask('gpt-3.5-turbo')).status).toBe(200);
  expect(await calls()).toBe(before);
  await ask('gpt-4o-mini');
  expect(await calls()).toBe(before + 1);
});
