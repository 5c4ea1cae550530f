import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/** The official Python `openai` and `langchain-openai` clients against the gateway (see test/python). */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
let fake: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  gw = await startGateway({
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-python', models: ['gpt-*'] }],
      keys: { entries: { 'sk-python-standard-key': { name: 'py' }, 'langchain-python-key': { name: 'py-lc', tier: 'langchain' } } },
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

test('openai and langchain-openai: chat, streams, tool calls and typed errors', async () => {
  const env = { ...process.env, GATEWAY_URL: gw.url, STANDARD_KEY: 'sk-python-standard-key', LANGCHAIN_KEY: 'langchain-python-key' };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/clients_check.py')], { env, timeout: 60000 }).catch((e) => e);
  const out = `${run.stdout}${run.stderr}`;
  expect(out).toMatch(/^11 passed, 0 failed$/m);
  expect(run.code ?? 0).toBe(0);
  // Streams with tools were asked for usage by the gateway even though the clients did not.
  expect(fake.requests.filter((r) => r.json?.stream).every((r) => r.json.stream_options?.include_usage === true)).toBe(true);
});
