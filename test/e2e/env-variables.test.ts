import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { freePorts } from '../helpers/ports';

/**
 * The earlier (Go) gateway's environment variables, end to end through a real Envoy, each
 * overriding the value the configuration file gives: KEYS_FILE_PATH (keys.json outside the
 * configuration's folder), SERVER_PORT (the public listener moves), REQUEST_TIMEOUT=2 (a 4.5 s
 * upstream answers an OpenAI-shaped 504 after ~2 s), and LOG_TO_FILE / LOG_FILE_PATH (JSON
 * lines in the file, from the primary and both processor workers; SIGHUP reopens it after
 * logrotate moved it).
 */

const VIRTUAL_KEY = 'vk_user1_openai';
const UPSTREAM_KEY = 'sk-upstream-env-vars-0123';

let fake: FakeOpenAI;
let gw: RunningGateway;
let url: string;
let serverPort: number;
let logFile: string;
let outside: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  fake.handle(async (req, res) => {
    if (req.json?.model === 'gpt-slow') {
      // 4.5 s, unless the gateway gives up first (then the connection closes).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 4500);
        res.on('close', () => (clearTimeout(timer), resolve()));
      });
    }
    if (res.destroyed || res.writableEnded) return;
    sendJson(res, 200, completion(req.json?.model ?? 'x', 'done'));
  });
  // Not the configuration's folder: keys and logs are where the variables say.
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-env-vars-'));
  fs.writeFileSync(
    path.join(outside, 'keys.json'),
    JSON.stringify({ virtual_keys: { [VIRTUAL_KEY]: { provider: 'fake', api_key: 'env:USER1_OPENAI_KEY', user: 'user1' } } }),
  );
  logFile = path.join(outside, 'log', 'gateway.log');
  for (let attempt = 1; ; attempt++) {
    const [port, extProcPort] = await freePorts(2);
    serverPort = port;
    try {
      gw = await startGateway({
        config: {
          // The file says otherwise for each: the environment wins.
          server: { request_timeout_seconds: 60 },
          keys: { file: 'missing-keys.json', entries: {} },
          logging: { level: 'info', file: { enabled: false, path: 'file.log' } },
          envoy: { concurrency: 2 },
          processor: { workers: 2, ext_proc_port: extProcPort },
          providers: [{ name: 'fake', type: 'openai-compatible', base_url: fake.url, models: ['gpt-*'] }],
          plugins: testPlugins(),
        },
        env: {
          KEYS_FILE_PATH: path.join(outside, 'keys.json'),
          USER1_OPENAI_KEY: UPSTREAM_KEY,
          SERVER_PORT: String(serverPort),
          REQUEST_TIMEOUT: '2',
          LOG_TO_FILE: 'true',
          LOG_FILE_PATH: logFile,
        },
      });
      break;
    } catch (err) {
      if (!/Address already in use|is already in use/.test((err as Error).message) || attempt >= 3) throw err;
    }
  }
  url = `http://127.0.0.1:${serverPort}`;
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const chat = (model: string, key = VIRTUAL_KEY) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

const fileLines = (file: string): Record<string, any>[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

test('the startup log names the variables that override the configuration', () => {
  expect(gw.logs()).toContainEqual(
    expect.objectContaining({
      msg: 'configuration overridden by environment variables',
      overrides: {
        KEYS_FILE_PATH: 'keys.file',
        SERVER_PORT: 'server.http_port',
        REQUEST_TIMEOUT: 'server.request_timeout_seconds',
        LOG_TO_FILE: 'logging.file.enabled',
        LOG_FILE_PATH: 'logging.file.path',
      },
    }),
  );
});

test('KEYS_FILE_PATH: the keys of that keys.json authenticate, with their provider credential', async () => {
  const res = await chat('gpt-4o-mini');
  expect(res.status).toBe(200);
  expect((await res.json()).choices[0].message.content).toBe('done');
  expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  expect((await chat('gpt-4o-mini', 'vk_not_in_the_file')).status).toBe(401);
});

test('SERVER_PORT: the public listener is on that port, not on the file’s', async () => {
  expect(serverPort).not.toBe(gw.ports.http);
  expect((await fetch(`${url}/health`)).status).toBeLessThan(500);
  await expect(fetch(`http://127.0.0.1:${gw.ports.http}/health`)).rejects.toThrow();
});

test('REQUEST_TIMEOUT=2: a 4.5 s upstream answers 504 after about 2 s, in OpenAI’s error shape', async () => {
  const started = Date.now();
  const res = await chat('gpt-slow');
  const elapsed = Date.now() - started;
  expect(res.status).toBe(504);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = await res.json();
  expect(body).toEqual({ error: { message: expect.any(String), type: 'server_error', param: null, code: 'timeout' } });
  expect(elapsed).toBeGreaterThanOrEqual(1900);
  expect(elapsed).toBeLessThan(3500);
  // A fast request on the same route is unaffected.
  expect((await chat('gpt-4o-mini')).status).toBe(200);
}, 15_000);

test('LOG_TO_FILE / LOG_FILE_PATH: JSON lines from the primary and the workers; SIGHUP reopens the file after a rename', async () => {
  // Everything so far is in the file as JSON lines: the primary's and the workers' (request lines).
  await waitFor(() => fileLines(logFile).some((l) => l.msg === 'request' && l.status === 504), 5000);
  const before = fileLines(logFile);
  expect(before.every((l) => l.service === 'llm-gateway' && typeof l.time === 'string')).toBe(true);
  expect(before).toContainEqual(expect.objectContaining({ msg: 'gateway ready' }));
  expect(new Set(before.filter((l) => l.msg === 'processor started' && l.role === 'worker').map((l) => l.worker)).size).toBe(2);
  expect(before.filter((l) => l.msg === 'request').every((l) => l.worker !== undefined)).toBe(true);
  // What reached stdout reached the file (same lines, stdout also has Envoy's own text output).
  await waitFor(() => gw.logs().filter((l) => l.msg === 'request').length === before.filter((l) => l.msg === 'request').length, 5000);

  // logrotate: move the file, then `kill -HUP <pid>`.
  fs.renameSync(logFile, `${logFile}.1`);
  gw.proc.kill('SIGHUP');
  // The primary and each worker reopen it.
  await waitFor(() => fileLines(logFile).filter((l) => l.msg === 'log file reopened').length === 3, 5000);
  expect(new Set(fileLines(logFile).filter((l) => l.msg === 'log file reopened').map((l) => l.worker))).toEqual(new Set([undefined, ...new Set(before.filter((l) => l.role === 'worker').map((l) => l.worker))]));
  const rotated = fileLines(`${logFile}.1`).length;

  for (let i = 0; i < 4; i++) expect((await chat('gpt-4o-mini')).status).toBe(200);
  await waitFor(() => fileLines(logFile).filter((l) => l.msg === 'request').length === 4, 5000);
  // Nothing more went to the moved file, and the gateway is still up.
  expect(fileLines(`${logFile}.1`)).toHaveLength(rotated);
  expect(gw.proc.exitCode).toBeNull();
}, 20_000);
