import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLIENT_KEY, ROOT, chat, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeGoogle, type FakeGoogle } from '../helpers/fake-google';

/** The Gemini API translator end to end: official openai client → Envoy + processor → fake Gemini API. */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const NATIVE_KEY = 'sk-native-test';
let fake: FakeGoogle;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeGoogle({ apiKey: NATIVE_KEY });
  gw = await startGateway({
    config: {
      providers: [
        { name: 'google', type: 'google', base_url: fake.url, api_key: NATIVE_KEY, models: ['gemini-*'] },
        // Same fake, wrong provider key, and the `gemini` alias of the type.
        { name: 'google-badkey', type: 'gemini', base_url: fake.url, api_key: 'sk-wrong', models: ['badkey-*'] },
      ],
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const parts = (r: { json: any }) => (r.json?.contents ?? []).flatMap((c: any) => c.parts ?? []);

test('the openai Python client: chat, streams, tools, structured output, images, embeddings, errors', async () => {
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: CLIENT_KEY };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/provider_google_check.py')], { env, timeout: 90000 }).catch((e) => e);
  const out = `${run.stdout}${run.stderr}`;
  expect(out).toMatch(/^16 passed, 0 failed$/m);
  expect(run.code ?? 0).toBe(0);

  // Native paths, native auth; the client's key never reaches Google.
  expect(fake.requests.length).toBeGreaterThan(10);
  for (const r of fake.requests) {
    expect(r.headers['x-goog-api-key']).toBe(NATIVE_KEY);
    expect(r.headers.authorization).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    expect(r.path).toMatch(/^\/v1beta\/models\/[^/:]+:(generateContent|streamGenerateContent\?alt=sse|batchEmbedContents)$/);
  }
  expect(fake.requests.some((r) => r.path === '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse')).toBe(true);

  // System prompt and generation parameters in native form.
  const plain = fake.requests.find((r) => parts(r).some((p: any) => p.text === 'hi there'))!;
  expect(plain.json.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
  expect(plain.json.generationConfig).toEqual({ maxOutputTokens: 64, temperature: 0.3, stopSequences: ['END'] });

  // Images: the data URL inline, the https URL as a file reference.
  const image = fake.requests.find((r) => parts(r).some((p: any) => p.inlineData))!;
  expect(image.json.contents).toEqual([
    {
      role: 'user',
      parts: [
        { text: 'describe' },
        { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUg==' } },
        { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/images/cat.png' } },
      ],
    },
  ]);

  // Tools: declarations without the JSON-Schema keys Gemini rejects; tool_choice as functionCallingConfig.
  const required = fake.requests.find((r) => r.json?.toolConfig?.functionCallingConfig?.mode === 'ANY' && !r.json.toolConfig.functionCallingConfig.allowedFunctionNames)!;
  expect(required.json.tools[0].functionDeclarations[0]).toEqual({
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', format: 'enum', enum: ['celsius', 'fahrenheit'] } }, required: ['city'] },
  });
  expect(fake.requests.some((r) => JSON.stringify(r.json?.toolConfig) === JSON.stringify({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } }))).toBe(true);

  // Tool results: one user turn with both functionResponses, after the model's functionCall turn.
  const results = fake.requests.find((r) => parts(r).some((p: any) => p.functionResponse))!;
  expect(results.json.contents.map((c: any) => c.role)).toEqual(['user', 'model', 'user']);
  expect(results.json.contents[1].parts.map((p: any) => p.functionCall?.name)).toEqual(['get_weather', 'get_time']);
  expect(results.json.contents[2].parts).toEqual([
    { functionResponse: { name: 'get_weather', response: { temp_c: 21 } } },
    { functionResponse: { name: 'get_time', response: { result: '12:00' } } },
  ]);

  // Structured output.
  const structured = fake.requests.find((r) => r.json?.generationConfig?.responseSchema)!;
  expect(structured.json.generationConfig).toEqual({
    responseMimeType: 'application/json',
    responseSchema: { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' }, capital: { type: 'boolean' } }, required: ['city', 'population', 'capital'] },
  });

  // Embeddings.
  const embed = fake.requests.find((r) => r.path.endsWith(':batchEmbedContents'))!;
  expect(embed.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
  expect(embed.json.requests[0]).toEqual({ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] }, outputDimensionality: 4 });
});

test('raw stream: OpenAI SSE framing, one [DONE], usage recorded though the client did not ask for it', async () => {
  const res = await chat(gw.url, { model: 'gemini-2.0-flash', stream: true, messages: [{ role: 'user', content: 'raw stream check' }] });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  expect(text).not.toContain('\r');
  const events = text.split('\n\n').filter(Boolean);
  expect(events.every((e) => e.startsWith('data: '))).toBe(true);
  expect(events.filter((e) => e === 'data: [DONE]')).toHaveLength(1);
  expect(events[events.length - 1]).toBe('data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('echo: raw stream check');
  expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
  // The usage-recorder asked for usage; the translator emitted it; the gateway logged it.
  const log = await waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.streamed && l.provider === 'google' && l.prompt_tokens !== undefined));
  expect([log.prompt_tokens, log.completion_tokens, log.total_tokens]).toEqual([9, 5, 14]);
});

test('buffered errors keep their status and become OpenAI error JSON', async () => {
  const res = await chat(gw.url, { model: 'gemini-error-429', messages: [{ role: 'user', content: 'x' }] });
  expect(res.status).toBe(429);
  expect(await res.json()).toEqual({
    error: { message: 'Resource has been exhausted (e.g. check quota).', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
  });
});

test('a wrong provider key: Google\'s 400 API_KEY_INVALID becomes an invalid_api_key error', async () => {
  const res = await chat(gw.url, { model: 'badkey-gemini', messages: [{ role: 'user', content: 'x' }] });
  expect(res.status).toBe(400);
  expect((await res.json()).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key', message: 'API key not valid. Please pass a valid API key.' });
});

test('the fake answers a request without x-goog-api-key as Google does (403 PERMISSION_DENIED)', async () => {
  const res = await fetch(`${fake.url}/models/gemini-2.0-flash:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
  });
  expect(res.status).toBe(403);
  expect((await res.json()).error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' });
});
