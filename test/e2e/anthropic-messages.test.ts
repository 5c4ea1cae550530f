import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import { CLIENT_KEY, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { sse, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startFakeGoogle, type FakeGoogle } from '../helpers/fake-google';
import { startFakeCohere, type FakeCohere } from '../helpers/fake-cohere';
import { generateDevCerts, type DevCerts } from '../../src/identity/dev-certs';
import { mtlsPost } from '../helpers/mtls';
import { freePorts } from '../helpers/ports';

/**
 * Anthropic Messages (`POST /v1/messages`, `/v1/messages/count_tokens`) through real Envoy with
 * the official SDKs (Python `anthropic`, Node `@anthropic-ai/sdk`): natively to a fake Anthropic
 * (the client's bytes, model id and credential alone changed), translated both ways to fake
 * OpenAI, Gemini and Cohere upstreams; errors in Anthropic's shape, usage records, fallbacks
 * across the two kinds of attempt, the content filter.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const ANTHROPIC_KEY = 'sk-ant-upstream-0123456789';
const MODELS = ['claude-test-native', 'gpt-4o', 'gemini-2.0-flash', 'command-r'];

let anthropicFake: FakeAnthropic;
let openai: FakeOpenAI;
let google: FakeGoogle;
let cohere: FakeCohere;
let gw: RunningGateway;
let client: Anthropic;
let certs: DevCerts;
let mtlsPort: number;
const AGENT = 'spiffe://example.org/agent/coder';

beforeAll(async () => {
  [anthropicFake, openai, google, cohere] = await Promise.all([startFakeAnthropic({ apiKey: ANTHROPIC_KEY }), startFakeOpenAI(), startFakeGoogle({ apiKey: 'g-key' }), startFakeCohere()]);
  certs = generateDevCerts({ dir: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gw-messages-')), 'certs'), clients: [AGENT] });
  [mtlsPort] = await freePorts(1);
  gw = await startGateway({
    config: {
      mtls: {
        enabled: true,
        listen_address: '127.0.0.1',
        port: mtlsPort,
        server_cert: certs.server.cert,
        server_key: certs.server.key,
        client_ca: certs.ca.cert,
        identities: [{ match: AGENT, user: 'coder-agent', team: 'agents' }],
      },
      providers: [
        { name: 'anthropic', type: 'anthropic', base_url: anthropicFake.url, api_key: ANTHROPIC_KEY, models: ['claude-*', 'error-*'] },
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-upstream', models: ['gpt-*'] },
        { name: 'google', type: 'google', base_url: google.url, api_key: 'g-key', models: ['gemini-*'] },
        { name: 'cohere', type: 'cohere', base_url: cohere.url, api_key: 'co-key', models: ['command-*'] },
      ],
      models: [{ id: 'claude-alias', provider: 'anthropic', model: 'claude-test-native' }],
      fallbacks: [{ model: 'error-529', fallback_models: ['gpt-4o'], on: [529] }],
      keys: { entries: { [CLIENT_KEY]: { name: 'agent', user: 'agent-user', team: 'agents' } } },
      pricing: { models: { 'claude-test-native': { input: 3, output: 15 } } },
      security: {
        content_filtering_enabled: true,
        content_filters: [
          {
            name: 'agents',
            rules: [
              { name: 'block-codename', target: 'request', pattern: 'project[- ]falcon', flags: 'i', action: 'block' },
              { name: 'redact-secret', target: 'request', pattern: 'hunter2', action: 'redact' },
              { name: 'redact-out', target: 'response', pattern: 'SECRET-[0-9]+', action: 'redact' },
            ],
          },
        ],
      },
      usage: { flush_interval_ms: 20 },
      server: { max_request_body_bytes: 1024 * 1024 },
      plugins: testPlugins({ use: 'rate-limit-descriptors' }),
      rate_limits: { rules: [{ name: 'rpm', match: { key: '*', model: 'claude-limited' }, requests_per_minute: 1 }] },
    },
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: CLIENT_KEY, maxRetries: 0 });
}, 120000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([anthropicFake?.close(), openai?.close(), google?.close(), cohere?.close()]);
});

beforeEach(() => {
  for (const f of [anthropicFake, openai, google, cohere]) f.reset();
});

const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${p}`, {
    method: 'POST',
    headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function expectAnthropicError(res: Response, status: number, type: string): Promise<any> {
  const body = await res.json();
  expect([res.status, body.type, body.error?.type]).toEqual([status, 'error', type]);
  expect(typeof body.error.message).toBe('string');
  return body;
}

test('python anthropic SDK: create, stream, tools, images, count_tokens, errors, on every provider', async () => {
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: CLIENT_KEY, MODELS: MODELS.join(',') };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/anthropic_messages_check.py')], { env, timeout: 120000 }).catch((e) => e);
  const out = `${run.stdout}${run.stderr}`;
  if (!/^37 passed, 0 failed$/m.test(out)) console.log(out);
  expect(out).toMatch(/^37 passed, 0 failed$/m);
}, 150000);

test('native: the client bytes reach Anthropic unchanged, with its anthropic-version and anthropic-beta, the provider key only', async () => {
  // Unusual spacing, key order and a field the gateway does not know: all must survive.
  const raw = '{"max_tokens": 32,  "model":"claude-test-native", "messages":[{"role":"user","content":"raw bytes"}], "top_k": 5, "future_field": {"x": 1}}';
  const res = await post('/v1/messages', raw, { 'anthropic-beta': 'prompt-caching-2024-07-31', 'anthropic-version': '2023-06-01' });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('anthropic/claude-test-native');
  const body = await res.json();
  expect(body).toMatchObject({ id: 'msg_fake01', type: 'message', content: [{ type: 'text', text: 'echo: raw bytes' }], usage: { input_tokens: 10, cache_read_input_tokens: 4 } });
  const seen = anthropicFake.requests[0];
  expect(seen.path).toBe('/v1/messages');
  expect(seen.body).toBe(raw);
  expect(seen.headers['x-api-key']).toBe(ANTHROPIC_KEY);
  expect(seen.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
  expect(seen.headers['anthropic-version']).toBe('2023-06-01');
  expect(JSON.stringify(seen.headers)).not.toContain(CLIENT_KEY);
});

test('native with a renamed model: only the model value changes in the bytes', async () => {
  const raw = '{"model" : "claude-alias","max_tokens":16,"messages":[{"role":"user","content":"alias \\u00e9"}]}';
  const res = await post('/v1/messages', raw);
  expect(res.status).toBe(200);
  expect(anthropicFake.requests[0].body).toBe(raw.replace('"claude-alias"', '"claude-test-native"'));
  // The client's model id is answered back as Anthropic gave it (the native answer is untouched).
  expect((await res.json()).model).toBe('claude-test-native');
});

test('native stream: Anthropic events pass through as they came', async () => {
  anthropicFake.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sse('message_start', { message: { id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-test-native', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 7, output_tokens: 1 } } }));
    res.write(sse('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }));
    res.write(sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }));
    res.write(sse('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }));
    res.write(sse('content_block_stop', { index: 0 }));
    res.write(sse('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }));
    res.write(sse('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Hi' } }));
    res.write(sse('content_block_stop', { index: 1 }));
    res.write(sse('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }));
    res.end(sse('message_stop', {}));
  });
  const res = await post('/v1/messages', { model: 'claude-test-native', max_tokens: 64, stream: true, thinking: { type: 'enabled', budget_tokens: 32 }, messages: [{ role: 'user', content: 'think' }] }, { 'x-request-id': 'messages-native-stream' });
  const text = await res.text();
  expect(text).toContain('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}');
  expect(text).toContain('"signature_delta"');
  expect(text.trim().endsWith('data: {"type":"message_stop"}')).toBe(true);
  // The body went as the client sent it: thinking included, no stream_options added.
  expect(anthropicFake.requests[0].json.thinking).toEqual({ type: 'enabled', budget_tokens: 32 });
  expect(anthropicFake.requests[0].json).not.toHaveProperty('stream_options');
  const record = await usageRecord('messages-native-stream');
  expect(record).toMatchObject({ api: 'messages', provider: 'anthropic', prompt_tokens: 7, completion_tokens: 9, streamed: 1, status: 200 });
  expect(record.cost_usd).toBeGreaterThan(0);
});

test('node SDK: create, stream and count_tokens natively and translated', async () => {
  for (const model of ['claude-test-native', 'gpt-4o']) {
    const msg = await client.messages.create({ model, max_tokens: 32, messages: [{ role: 'user', content: 'node hello' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect((msg.content[0] as Anthropic.TextBlock).text).toContain('node');
    const stream = client.messages.stream({ model, max_tokens: 32, messages: [{ role: 'user', content: 'node stream' }] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    const count = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'count these words please' }] });
    expect(count.input_tokens).toBeGreaterThan(0);
  }
  // count_tokens for a model Anthropic does not serve is the gateway's estimate: no provider is called.
  expect(openai.requests.filter((r) => r.path.includes('count'))).toHaveLength(0);
  expect(anthropicFake.requests.filter((r) => r.path === '/v1/messages/count_tokens')).toHaveLength(1);
});

test('node SDK: errors are typed as Anthropic errors', async () => {
  const bad = new Anthropic({ baseURL: gw.url, apiKey: 'sk-wrong', maxRetries: 0 });
  await expect(bad.messages.create({ model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  await expect(client.messages.create({ model: 'nope', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  await expect(client.messages.create({ model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'about project falcon' }] })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
});

test('translated to OpenAI: the chat body the provider got', async () => {
  const res = await post('/v1/messages', {
    model: 'gpt-4o',
    max_tokens: 50,
    system: [{ type: 'text', text: 'Be brief.' }],
    stop_sequences: ['END'],
    metadata: { user_id: 'u-7' },
    tools: [{ name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] }] },
    ],
  });
  expect(res.status).toBe(200);
  const sent = openai.requests[0].json;
  expect(sent).toMatchObject({ model: 'gpt-4o', max_tokens: 50, stop: ['END'], user: 'u-7', tool_choice: 'required', parallel_tool_calls: false });
  expect(sent.messages).toEqual([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
    { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
  ]);
  expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
  expect(openai.requests[0].headers['anthropic-version']).toBeUndefined();
});

test('what only Anthropic can take is refused for a translated model, in Anthropic shape', async () => {
  const res = await post('/v1/messages', { model: 'gpt-4o', max_tokens: 8, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'x' }] });
  const body = await expectAnthropicError(res, 400, 'invalid_request_error');
  expect(body.error.message).toContain('tools.0');
  expect(openai.requests).toHaveLength(0);
});

test('fallback: a native attempt that fails is followed by a translated one, answered as a Message', async () => {
  const msg = await client.messages.create({ model: 'error-529', max_tokens: 16, messages: [{ role: 'user', content: 'fall back' }] });
  expect(msg.type).toBe('message');
  expect((msg.content[0] as Anthropic.TextBlock).text).toBe('echo: fall back');
  expect(anthropicFake.requests).toHaveLength(1);
  expect(openai.requests).toHaveLength(1);
  expect(openai.requests[0].json.messages).toEqual([{ role: 'user', content: 'fall back' }]);
  expect(openai.requests[0].headers['x-api-key']).toBeUndefined();
});

test('content filter: a redaction is honoured by translating instead of sending the original bytes', async () => {
  const res = await post('/v1/messages', { model: 'claude-test-native', max_tokens: 16, messages: [{ role: 'user', content: 'my password is hunter2' }] });
  expect(res.status).toBe(200);
  const seen = anthropicFake.requests[0];
  expect(seen.body).not.toContain('hunter2');
  expect((await res.json()).type).toBe('message');
});

test('content filter on a native stream: a redacted answer reaches the SDK well-formed, without the secret', async () => {
  anthropicFake.handle((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sse('message_start', { message: { id: 'msg_r', type: 'message', role: 'assistant', model: req.json.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }));
    res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    for (const piece of ['The code is ', 'SECRET-', '42 and ', 'more text follows here.']) res.write(sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } }));
    res.write(sse('content_block_stop', { index: 0 }));
    res.write(sse('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 8 } }));
    res.end(sse('message_stop', {}));
  });
  const stream = client.messages.stream({ model: 'claude-test-native', max_tokens: 64, messages: [{ role: 'user', content: 'tell me' }] });
  const final = await stream.finalMessage();
  const text = (final.content[0] as Anthropic.TextBlock).text;
  expect(text).not.toContain('SECRET-42');
  expect(text).toContain('more text follows here.');
  expect(final.stop_reason).toBe('end_turn');
  expect(final.usage.output_tokens).toBe(8);
});

test('gateway errors, plugin refusals and Envoy local replies on /v1/messages are Anthropic-shaped', async () => {
  await expectAnthropicError(await post('/v1/messages', '{not json'), 400, 'invalid_request_error');
  await expectAnthropicError(await post('/v1/messages', { model: 'claude-test-native', messages: [] }), 400, 'invalid_request_error');
  await expectAnthropicError(await post('/v1/messages', { model: 'claude-test-native', max_tokens: 8, messages: [{ role: 'user', content: 'project falcon' }] }), 400, 'invalid_request_error');
  await expectAnthropicError(await post('/v1/messages', { model: 'x', max_tokens: 8, messages: [] }, { 'x-api-key': 'sk-nope' }), 401, 'authentication_error');
  await expectAnthropicError(await post('/v1/messages/unknown', { model: 'x' }), 404, 'not_found_error');
  // Envoy's own 413 (body over the listener's limit).
  const big = await post('/v1/messages', JSON.stringify({ model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }));
  await expectAnthropicError(big, 413, 'request_too_large');
  // The OpenAI paths keep OpenAI's shape.
  const openaiPath = await fetch(`${gw.url}/v1/nothing-here`, { method: 'POST', headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect((await openaiPath.json()).error.code).toBe('unknown_url');
});

test("the rate limit service's 429 on /v1/messages is Anthropic-shaped, with its headers", async () => {
  const ask = () => post('/v1/messages', { model: 'claude-limited', max_tokens: 8, messages: [{ role: 'user', content: 'limit me' }] });
  expect((await ask()).status).toBe(200);
  const refused = await ask();
  await expectAnthropicError(refused, 429, 'rate_limit_error');
  expect(refused.headers.get('retry-after')).toBeTruthy();
  await expect(client.messages.create({ model: 'claude-limited', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
});

test('an agent with an mTLS identity and no key: Messages natively, recorded under its identity', async () => {
  const cert = certs.clients.find((c) => c.id === AGENT)!;
  const body = JSON.stringify({ model: 'claude-test-native', max_tokens: 8, messages: [{ role: 'user', content: 'by certificate' }] });
  const reply = await mtlsPost({ port: mtlsPort, ca: certs.ca.cert, cert, path: '/v1/messages', body, headers: { 'anthropic-version': '2023-06-01', 'x-request-id': 'messages-mtls-1' } });
  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'echo: by certificate' }] });
  expect(anthropicFake.requests[0].body).toBe(body);
  expect(await usageRecord('messages-mtls-1')).toMatchObject({ api: 'messages', user_id: 'coder-agent', team: 'agents' });
});

test('malformed bodies get a 400 in Anthropic shape, never a 5xx, natively or translated', async () => {
  const deep = JSON.parse('['.repeat(2000) + ']'.repeat(2000));
  const bodies: unknown[] = [
    [],
    { model: 'claude-test-native', max_tokens: 8, messages: [null] },
    { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: null }] },
    { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: [null, 5] }] },
    { model: 'gpt-4o', max_tokens: 8, system: {}, messages: [{ role: 'user', content: 'x' }] },
    { model: 'gpt-4o', max_tokens: 8, tools: 'x', tool_choice: 'auto', messages: [{ role: 'user', content: 'x' }] },
    { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'image', source: null }] }] },
    { model: 'gpt-4o', max_tokens: 8, messages: [{ role: '__proto__', content: 'x' }] },
    { model: 'gpt-4o', max_tokens: 1.5, messages: [{ role: 'user', content: 'x' }] },
    { model: ['claude-test-native'], max_tokens: 8, messages: [{ role: 'user', content: 'x' }] },
    { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 5, content: deep }] }] },
  ];
  for (const body of bodies) {
    const res = await post('/v1/messages', body);
    const json = await res.json();
    expect([bodies.indexOf(body), res.status, json.type, json.error?.type]).toEqual([bodies.indexOf(body), 400, 'error', 'invalid_request_error']);
  }
  const count = await post('/v1/messages/count_tokens', { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'x', content: deep }] }] });
  expect(count.status).toBe(200);
});

test('usage records name the API the client called', async () => {
  await post('/v1/messages', { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'record me' }] }, { 'x-request-id': 'messages-usage-1' });
  expect(await usageRecord('messages-usage-1')).toMatchObject({ api: 'messages', provider: 'openai', model_requested: 'gpt-4o', user_id: 'agent-user', team: 'agents', prompt_tokens: 9, completion_tokens: 3 });
});

async function usageRecord(requestId: string): Promise<any> {
  return waitFor(() => {
    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
    try {
      return db.prepare('SELECT * FROM usage_records WHERE request_id = ?').get(requestId) as any;
    } finally {
      db.close();
    }
  });
}
