import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { CLIENT_KEY, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startFakeGoogle, type FakeGoogle } from '../helpers/fake-google';
import { startFakeCohere, type FakeCohere } from '../helpers/fake-cohere';

/**
 * OpenAI Responses (`POST /v1/responses`) through real Envoy with the official Python `openai`
 * SDK: passed through natively to OpenAI-compatible providers, translated both ways (streams
 * included) to Anthropic, Gemini and Cohere; state the gateway does not keep refused clearly.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const TRANSLATED = ['claude-test-1', 'gemini-2.0-flash', 'command-r'];

let anthropic: FakeAnthropic;
let openai: FakeOpenAI;
let google: FakeGoogle;
let cohere: FakeCohere;
let gw: RunningGateway;

beforeAll(async () => {
  [anthropic, openai, google, cohere] = await Promise.all([startFakeAnthropic({ apiKey: 'sk-ant' }), startFakeOpenAI(), startFakeGoogle({ apiKey: 'g-key' }), startFakeCohere()]);
  gw = await startGateway({
    config: {
      providers: [
        { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant', models: ['claude-*', 'error-*'] },
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-upstream', models: ['gpt-*'] },
        // An OpenAI-compatible server without the Responses API (the same fake, chat only).
        { name: 'chat-only', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-upstream', models: ['local-*'], translated_apis: ['responses'] },
        { name: 'google', type: 'google', base_url: google.url, api_key: 'g-key', models: ['gemini-*'] },
        { name: 'cohere', type: 'cohere', base_url: cohere.url, api_key: 'co-key', models: ['command-*'] },
      ],
      fallbacks: [{ model: 'error-529', fallback_models: ['gpt-4o'], on: [529] }],
      keys: { entries: { [CLIENT_KEY]: { name: 'agent', user: 'agent-user', team: 'agents' } } },
      pricing: { models: { 'claude-test-1': { input: 3, output: 15 } } },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
    },
  });
}, 120000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([anthropic?.close(), openai?.close(), google?.close(), cohere?.close()]);
});

beforeEach(() => {
  for (const f of [anthropic, openai, google, cohere]) f.reset();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('python openai SDK: responses.create and responses.stream on every translated provider', async () => {
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: CLIENT_KEY, MODELS: TRANSLATED.join(',') };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/responses_check.py')], { env, timeout: 120000 }).catch((e) => e);
  const out = `${run.stdout}${run.stderr}`;
  if (!/^23 passed, 0 failed$/m.test(out)) console.log(out);
  expect(out).toMatch(/^23 passed, 0 failed$/m);
}, 150000);

test('an OpenAI-compatible provider with translated_apis: [responses] gets chat completions, and the client a Responses answer', async () => {
  const res = await post({ model: 'local-llama', input: 'hello there', instructions: 'Be brief.' }, { 'x-request-id': 'responses-chat-only-1' });
  expect(res.status).toBe(200);
  const out = (await res.json()) as { object: string; status: string; output: { type: string; content: { type: string; text: string }[] }[] };
  expect(out).toMatchObject({ object: 'response', status: 'completed' });
  expect(out.output[0].content[0]).toMatchObject({ type: 'output_text', text: 'echo: hello there' });
  expect(openai.requests).toHaveLength(1);
  expect(openai.requests[0].path).toBe('/v1/chat/completions');
  expect(openai.requests[0].json).toMatchObject({ model: 'local-llama', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }] });
  expect(await usageRecord('responses-chat-only-1')).toMatchObject({ api: 'responses', provider: 'chat-only' });
});

test('OpenAI-compatible providers still get the Responses body natively, and answer as they are', async () => {
  const answer = { id: 'resp_native1', object: 'response', status: 'completed', model: 'gpt-4o', output: [], usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } };
  openai.handle((req, res) => sendJson(res, 200, { ...answer, seen: req.path }));
  const body = { model: 'gpt-4o', input: 'native', previous_response_id: 'resp_prev', store: true };
  const res = await post(body, { 'x-request-id': 'responses-native-1' });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ...answer, seen: '/v1/responses' });
  expect(openai.requests[0].json).toEqual(body);
  expect(await usageRecord('responses-native-1')).toMatchObject({ api: 'responses', provider: 'openai', prompt_tokens: 3, completion_tokens: 2 });
});

test('fallback: a translated attempt that fails is followed by a native one with the client body', async () => {
  const answer = { id: 'resp_fb', object: 'response', status: 'completed', model: 'gpt-4o', output: [], usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } };
  openai.handle((_req, res) => sendJson(res, 200, answer));
  const res = await post({ model: 'error-529', input: 'fall back', instructions: 'x' });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual(answer);
  expect(anthropic.requests[0].json).toMatchObject({ model: 'error-529', system: 'x', messages: [{ role: 'user', content: [{ type: 'text', text: 'fall back' }] }] });
  expect(openai.requests[0].path).toBe('/v1/responses');
  expect(openai.requests[0].json).toEqual({ model: 'gpt-4o', input: 'fall back', instructions: 'x' });
});

test('a native Responses stream passes through byte for byte, its usage recorded', async () => {
  const events = [
    `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_n","object":"response","status":"in_progress","output":[]}}\n\n`,
    `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_n","output_index":0,"content_index":0,"delta":"hi"}\n\n`,
    `event: response.completed\ndata: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_n","object":"response","status":"completed","output":[],"usage":{"input_tokens":4,"output_tokens":1,"total_tokens":5}}}\n\n`,
  ];
  openai.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of events) res.write(e);
    res.end();
  });
  const res = await post({ model: 'gpt-4o', input: 'x', stream: true }, { 'x-request-id': 'responses-native-stream' });
  expect(await res.text()).toBe(events.join(''));
  expect(await usageRecord('responses-native-stream')).toMatchObject({ api: 'responses', prompt_tokens: 4, completion_tokens: 1, streamed: 1 });
});

test('translated to Anthropic: the Messages body it got, and the Response the client got', async () => {
  const res = await post(
    {
      model: 'claude-test-1',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'weather?' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
      ],
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      max_output_tokens: 100,
    },
    { 'x-request-id': 'responses-translated-1' },
  );
  expect(res.status).toBe(200);
  const sent = anthropic.requests[0].json;
  expect(sent).toMatchObject({ model: 'claude-test-1', max_tokens: 100, system: 'Be brief.' });
  expect(sent.messages).toEqual([
    { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' }] },
  ]);
  const body = await res.json();
  expect(body).toMatchObject({ object: 'response', status: 'completed', model: 'claude-test-1', instructions: 'Be brief.', max_output_tokens: 100 });
  expect(body.output[0]).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'echo: sunny' }] });
  // Anthropic's usage: 10 input + 4 cache reads + 2 cache writes, 4 of them cached.
  expect(body.usage).toEqual({ input_tokens: 16, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 21 });
  const record = await usageRecord('responses-translated-1');
  expect(record).toMatchObject({ api: 'responses', provider: 'anthropic', prompt_tokens: 16, completion_tokens: 5, cached_tokens: 4 });
  expect(record.cost_usd).toBeGreaterThan(0);
});

test('what needs state or an OpenAI-only feature is refused for a translated model, in OpenAI shape', async () => {
  for (const [body, param] of [
    [{ model: 'claude-test-1', input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
    [{ model: 'gemini-2.0-flash', input: 'x', conversation: 'conv_1' }, 'conversation'],
    [{ model: 'command-r', input: 'x', store: true }, 'store'],
    [{ model: 'claude-test-1', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0]'],
    [{ model: 'claude-test-1', input: [{ type: 'file_search_call', id: 'x' }] }, 'input[0].type'],
  ] as const) {
    const res = await post(body);
    const err = (await res.json()).error;
    expect([res.status, err.type, err.param]).toEqual([400, 'invalid_request_error', param]);
    expect(err.message).toContain(param.replace(/\[.*$/, ''));
  }
  expect(anthropic.requests.length + google.requests.length + cohere.requests.length).toBe(0);
});

test('malformed bodies for a translated model get a 400 in OpenAI shape, never a 5xx', async () => {
  const bodies: unknown[] = [
    { model: 'claude-test-1', input: 5 },
    { model: 'claude-test-1', input: [null] },
    { model: 'claude-test-1', input: [{ role: 'user', content: null }] },
    { model: 'claude-test-1', input: [{ role: 'user', content: [null] }] },
    { model: 'claude-test-1', input: 'x', tools: 'x' },
    { model: 'claude-test-1', input: 'x', tools: [{ type: 'function' }] },
    { model: 'claude-test-1', input: [{ type: 'function_call', call_id: 5, name: 'w', arguments: '{}' }] },
    { model: 'claude-test-1', input: [{ role: '__proto__', content: 'x' }] },
  ];
  for (const body of bodies) {
    const res = await post(body);
    const json = await res.json();
    expect([bodies.indexOf(body), res.status, json.error?.type]).toEqual([bodies.indexOf(body), 400, 'invalid_request_error']);
  }
});

test('a translated stream ends with response.completed, no [DONE]', async () => {
  const res = await post({ model: 'command-r', input: 'stream words', stream: true });
  const text = await res.text();
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  expect(text).toMatch(/^event: response\.created\ndata: /);
  expect(text.trim().split('\n\n').pop()).toMatch(/^event: response\.completed\ndata: \{"type":"response\.completed","sequence_number":\d+,"response":/);
  expect(text).not.toContain('[DONE]');
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
