import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLIENT_KEY, ROOT, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';

/** The official Python `openai` client through the real gateway and Envoy to a fake Anthropic Messages API. */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
let fake: FakeAnthropic;
let gw: RunningGateway;
let run: { stdout: string; stderr: string; code?: number };

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: 'sk-native-test' });
  gw = await startGateway({
    config: {
      providers: [{ name: 'anthropic', type: 'anthropic', base_url: fake.url, api_key: 'sk-native-test', models: ['claude-*'] }],
      plugins: testPlugins(),
    },
  });
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: CLIENT_KEY };
  run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/provider_anthropic_check.py')], { env, timeout: 90000 }).catch((e) => e);
}, 120000);

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

test('openai client: chat, streams, tools, tool results, structured output, images, errors, usage', () => {
  const out = `${run.stdout}${run.stderr}`;
  expect(out).toMatch(/^17 passed, 0 failed$/m);
  expect(run.code ?? 0).toBe(0);
});

test('the fake saw native requests on POST /v1/messages with the provider credential only', () => {
  expect(fake.requests.length).toBeGreaterThan(15);
  for (const r of fake.requests) {
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/messages');
    expect(r.headers['x-api-key']).toBe('sk-native-test');
    expect(r.headers['anthropic-version']).toBe('2023-06-01');
    expect(r.headers.authorization).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(CLIENT_KEY);
    expect(r.body).not.toContain(CLIENT_KEY);
    expect(Number.isInteger(r.json.max_tokens)).toBe(true);
    expect(r.json).not.toHaveProperty('stream_options');
  }
});

test('system message, images, tool results and structured output reached the fake in native form', () => {
  const sys = fake.requests.find((r) => r.json.system === 'Be brief.');
  expect(sys?.json.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi there' }] }]);

  const images = fake.requests.find((r) => r.body.includes('describe these'));
  expect(images?.json.messages[0].content).toEqual([
    { type: 'text', text: 'describe these' },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: expect.stringMatching(/^iVBORw0KGgo/) } },
    { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
  ]);

  const results = fake.requests.find((r) => r.body.includes('tool_result'));
  const [, assistant, toolTurn] = results?.json.messages ?? [];
  expect(assistant.content.filter((b: any) => b.type === 'tool_use').map((b: any) => b.id)).toEqual(['toolu_fake00', 'toolu_fake01']);
  expect(toolTurn).toEqual({
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_fake00', content: '18C and sunny' },
      { type: 'tool_result', tool_use_id: 'toolu_fake01', content: '10:00' },
    ],
  });

  const structured = fake.requests.find((r) => r.json.tool_choice?.name === 'city_info');
  expect(structured?.json.tool_choice).toEqual({ type: 'tool', name: 'city_info' });
  expect(structured?.json.tools).toEqual([expect.objectContaining({ name: 'city_info', input_schema: expect.objectContaining({ type: 'object' }) })]);

  const required = fake.requests.find((r) => r.json.tool_choice?.type === 'any');
  expect(required?.json.tools.map((t: any) => t.name)).toEqual(['get_weather', 'get_time']);
  expect(fake.requests.some((r) => r.json.tool_choice?.disable_parallel_tool_use === true)).toBe(true);
  expect(fake.requests.some((r) => JSON.stringify(r.json.stop_sequences) === '["three"]')).toBe(true);
});

test('the gateway recorded usage from streamed and buffered Anthropic responses', () => {
  // Streamed requests were answered with usage the client never asked for (usage-recorder), and it was recorded.
  const lines = gw.logs().filter((l) => l.msg === 'request' && l.provider === 'anthropic' && l.status === 200 && l.model === 'claude-test-1');
  expect(lines.length).toBeGreaterThan(10);
  for (const l of lines) expect([l.prompt_tokens, l.completion_tokens, l.total_tokens]).toEqual([16, 5, 21]);
  expect(lines.some((l) => l.streamed)).toBe(true);
});
