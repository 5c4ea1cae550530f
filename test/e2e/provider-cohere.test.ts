import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chat, CLIENT_KEY, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeCohere, type FakeCohere } from '../helpers/fake-cohere';

/**
 * The Cohere API v2 translator end to end: the official Python `openai` client → real Envoy →
 * ext_proc processor → fake Cohere upstream (test/helpers/fake-cohere.ts) and back.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
let fake: FakeCohere;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeCohere();
  gw = await startGateway({
    config: {
      providers: [{ name: 'cohere', type: 'cohere', base_url: fake.url, api_key: 'sk-native-test', models: ['command-*', 'embed-*', 'error-*'] }],
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const lastUser = (json: any): any => json?.messages?.filter((m: any) => m.role === 'user').at(-1);
const userText = (json: any): string => {
  const c = lastUser(json)?.content;
  return typeof c === 'string' ? c : Array.isArray(c) ? c.filter((p: any) => p.type === 'text').map((p: any) => p.text).join(' ') : '';
};

test('the openai client: chat, streams, tools, structured output, images, embeddings, typed errors', async () => {
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: CLIENT_KEY };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/provider_cohere_check.py')], { env, timeout: 90000 }).catch((e) => e);
  const out = `${run.stdout}${run.stderr}`;
  expect(out).toMatch(/^19 passed, 0 failed$/m);
  expect(run.code ?? 0).toBe(0);

  const reqs = fake.requests;
  expect(reqs.length).toBeGreaterThan(15);
  // The provider credential reached Cohere; the client's key never did.
  for (const r of reqs) {
    expect(r.method).toBe('POST');
    expect(['/v2/chat', '/v2/embed']).toContain(r.path);
    expect(r.headers.authorization).toBe('Bearer sk-native-test');
    expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    expect(r.body).not.toContain(CLIENT_KEY);
  }

  const chats = reqs.filter((r) => r.path === '/v2/chat');
  // Native parameter names only.
  const plain = chats.find((r) => userText(r.json) === 'hi there')!.json;
  expect(plain).toMatchObject({ model: 'command-a-03-2025', max_tokens: 50, temperature: 0.3, p: 0.9, stop_sequences: ['END'] });
  expect(plain.messages).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }]);

  // Streams ask for SSE natively; the usage plugin's stream_options never reaches Cohere.
  const streamed = chats.filter((r) => r.json.stream === true);
  expect(streamed.length).toBeGreaterThanOrEqual(4);
  for (const r of streamed) {
    expect(r.headers.accept).toBe('text/event-stream');
    expect(r.json).not.toHaveProperty('stream_options');
  }

  // Images: the data: URL and the https URL arrive as Cohere image_url content items.
  const images = chats.find((r) => userText(r.json) === 'describe these images')!.json;
  expect(lastUser(images).content).toEqual([
    { type: 'text', text: 'describe these images' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==' } },
    { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
  ]);

  // Tool choice: required → REQUIRED; named → REQUIRED with only that tool.
  const required = chats.find((r) => userText(r.json) === 'weather and time?' && !r.json.stream)!.json;
  expect(required.tool_choice).toBe('REQUIRED');
  expect(required.tools.map((t: any) => t.function.name)).toEqual(['get_weather', 'get_time']);
  const named = chats.find((r) => userText(r.json) === 'time?')!.json;
  expect(named.tool_choice).toBe('REQUIRED');
  expect(named.tools).toEqual([expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'get_time' }) })]);

  // Tool results round trip: the assistant's calls and one tool message per result.
  const roundTrip = chats.filter((r) => userText(r.json) === 'round trip weather and time').at(-1)!.json;
  const [, assistant, ...results] = roundTrip.messages;
  expect(assistant.role).toBe('assistant');
  expect(assistant.tool_calls.map((c: any) => c.function.name)).toEqual(['get_weather', 'get_time']);
  expect(results).toEqual(assistant.tool_calls.map((c: any, i: number) => ({ role: 'tool', tool_call_id: c.id, content: `result-${i}` })));

  // Structured output: json_schema becomes json_object with the schema.
  const structured = chats.find((r) => userText(r.json) === 'give me a person')!.json;
  expect(structured.response_format).toEqual({
    type: 'json_object',
    json_schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] },
  });

  // Embeddings: Cohere's texts / input_type / embedding_types / output_dimension.
  const embeds = reqs.filter((r) => r.path === '/v2/embed');
  expect(embeds[0].json).toEqual({ model: 'embed-v4.0', texts: ['hello', 'world!'], input_type: 'search_document', embedding_types: ['float'] });
  expect(embeds.some((r) => r.json.output_dimension === 8)).toBe(true);

  // n > 1 was refused by the gateway without reaching Cohere.
  expect(chats.some((r) => r.json.n !== undefined)).toBe(false);
});

test('usage is recorded for buffered and streamed Cohere answers', async () => {
  const res = await chat(gw.url, { model: 'command-r-plus', messages: [{ role: 'user', content: 'direct' }] });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-provider')).toBe('cohere');
  const body = await res.json();
  expect(body.usage).toEqual({ prompt_tokens: 14, completion_tokens: 5, total_tokens: 19 });

  const streamed = await chat(gw.url, { model: 'command-r-plus', stream: true, messages: [{ role: 'user', content: 'streamed direct' }] });
  const text = await streamed.text();
  expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  expect(text.match(/data: \[DONE\]/g)).toHaveLength(1);
  // The gateway asked Cohere for usage; the client did not, so the usage chunk is hidden.
  expect(text).not.toContain('"usage"');
  expect(text).not.toContain('event:');

  const logs = await waitFor(() => {
    const found = gw.logs().filter((l) => l.msg === 'request' && l.provider === 'cohere' && l.upstream_model === 'command-r-plus');
    return found.length >= 2 ? found : undefined;
  });
  for (const l of logs.slice(-2)) expect([l.prompt_tokens, l.completion_tokens, l.total_tokens]).toEqual([14, 5, 19]);
});

test('an error inside a Cohere stream reaches the client as an OpenAI error event, then [DONE]', async () => {
  fake.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (type: string, payload: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`);
    send('message-start', { id: 'm-err', delta: { message: { role: 'assistant' } } });
    send('content-delta', { index: 0, delta: { message: { content: { text: 'partial' } } } });
    send('message-end', { delta: { finish_reason: 'ERROR', error: 'the model failed mid-generation' } });
    res.end();
  });
  try {
    const res = await chat(gw.url, { model: 'command-r-plus', stream: true, messages: [{ role: 'user', content: 'fail midway' }] });
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(JSON.parse(events.at(-2)!.slice('data: '.length))).toEqual({
      error: { message: 'the model failed mid-generation', type: 'server_error', param: null, code: 'server_error' },
    });
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.some((e) => e.includes('"content":"partial"'))).toBe(true);
  } finally {
    fake.handle(undefined);
  }
});

test('the fake answers like Cohere without a credential', async () => {
  const res = await fetch(`${fake.url}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({ id: expect.any(String), message: 'no api key supplied' });
});
