import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT, waitFor } from '../helpers/gateway';

/**
 * README's promise: on the embedded defaults (no gateway.yaml, default ports), the curl and
 * Python `openai` snippets it shows work right after start. The snippets are read from README
 * itself so the two cannot drift apart.
 */

const run = promisify(execFile);
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function snippet(tag: string): string {
  const m = new RegExp(`<!-- readme-test: ${tag} -->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README has no ${tag} snippet`);
  return m[1];
}

export const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';

let proc: ReturnType<typeof spawn>;
let output = '';

beforeAll(async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-readme-'));
  const env = { ...process.env };
  delete env.GATEWAY_CONFIG;
  delete env.OPENAI_API_KEY;
  proc = spawn(process.execPath, [CLI], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  await waitFor(() => output.includes('"msg":"gateway ready"'), 30000).catch((err) => {
    throw new Error(`${err.message}\n${output}`);
  });
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
});

test('the embedded defaults listen on 8080 with Envoy admin on 127.0.0.1:9901', async () => {
  expect((await fetch('http://localhost:8080/health')).status).toBe(200);
  expect((await fetch('http://127.0.0.1:9901/ready')).status).toBe(200);
  expect(output).toContain('"url":"http://0.0.0.0:8080"');
});

test("README's curl example works", async () => {
  const { stdout } = await run('bash', ['-c', snippet('curl')]);
  const body = JSON.parse(stdout);
  expect(body.object).toBe('chat.completion');
  expect(body.choices[0].message.content).toBe('Hello, gateway!');
});

test("README's LangChain example works on the LangChain endpoint", async () => {
  const { stdout } = await run(PYTHON, ['-c', snippet('langchain')], { timeout: 30000 });
  expect(stdout.split('\n').slice(0, 2)).toEqual(['Hello, LangChain!', 'Streaming through LangChain.']);
});

test("README's Python openai example works, streaming included", async () => {
  const { stdout } = await run(PYTHON, ['-c', snippet('python')], { timeout: 30000 });
  expect(stdout.split('\n').slice(0, 2)).toEqual(['Hello, gateway!', 'Streams work too.']);
});
