import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { allocatePorts, chat, CLI, gatewayConfig, isRunning, startGateway, waitFor } from '../helpers/gateway';
import { findEnvoy } from '../../src/envoy/supervisor';

/** Process supervision: start, stop, crash propagation, sidecar mode and processor outages. */

function envoyPid(output: string): number {
  const line = output.split('\n').find((l) => l.includes('"msg":"envoy started"'));
  if (!line) throw new Error(`no envoy start line in:\n${output}`);
  return JSON.parse(line).pid;
}

const echoBody = { model: 'echo', messages: [{ role: 'user', content: 'ping' }] };

test('SIGTERM stops the processor and Envoy cleanly, leaving no process behind', async () => {
  const gw = await startGateway();
  const pid = envoyPid(gw.output());
  expect(isRunning(pid)).toBe(true);
  expect((await chat(gw.url, echoBody)).status).toBe(200);
  const code = await gw.stop('SIGTERM');
  expect(code).toBe(0);
  await waitFor(() => !isRunning(pid), 5000);
  await expect(fetch(`${gw.url}/health`)).rejects.toThrow();
});

test('if Envoy dies, the processor exits non-zero', async () => {
  const gw = await startGateway();
  process.kill(envoyPid(gw.output()), 'SIGKILL');
  const code = await Promise.race([gw.exited, new Promise((r) => setTimeout(() => r('timeout'), 15000).unref())]);
  expect(code).not.toBe('timeout');
  expect(code).not.toBe(0);
  expect(gw.output()).toContain('envoy exited unexpectedly');
});

test('if the processor is killed outright, Envoy goes with it', async () => {
  const gw = await startGateway();
  const pid = envoyPid(gw.output());
  gw.proc.kill('SIGKILL');
  await gw.exited;
  await waitFor(() => !isRunning(pid), 10000);
});

test('a missing Envoy binary fails fast with a message naming the fix', async () => {
  const ports = await allocatePorts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-noenvoy-'));
  const file = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(file, YAML.stringify(gatewayConfig(ports, dir)));
  const env = { ...process.env, PATH: '/usr/bin:/bin', ENVOY_INSTALL_DIR: path.join(dir, 'no-envoy-here') };
  delete env.ENVOY_BIN;
  const child = spawn(process.execPath, [CLI, 'start', '-c', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  expect(code).toBe(2);
  expect(err).toMatch(/Envoy 1\.40\.x not found/);
  expect(err).toContain('npm run envoy:install');
  expect(err).toContain('ENVOY_BIN');
});

test('check-config loads plugins, so bad plugin options are reported with their key', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-check-'));
  const file = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(file, YAML.stringify({ plugins: [{ use: 'virtual-keys', options: { roles_by_endpoint: { embeddings: 'superuser' } } }] }));
  const child = spawn(process.execPath, [CLI, 'check-config', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  expect(await new Promise((r) => child.on('exit', r))).toBe(2);
  expect(err).toContain('plugins[0].options.roles_by_endpoint.embeddings: must be one of completion, embedding, admin');
});

describe('sidecar mode (--no-envoy) and processor outages', () => {
  let envoy: ChildProcess | undefined;
  afterEach(() => envoy?.kill('SIGKILL'));

  test('Envoy answers a JSON 503 while the processor is down, and traffic resumes when it is back', async () => {
    const ports = await allocatePorts();
    const first = await startGateway({ args: ['--no-envoy'], ports, readyPattern: /running without Envoy/ });
    // Generate the same bootstrap the managed mode would use and run Envoy ourselves, as a sidecar would.
    const bootstrap = path.join(first.dir, 'sidecar-envoy.yaml');
    const gen = spawn(process.execPath, [CLI, 'envoy-config', '-c', first.configFile, '-o', bootstrap]);
    expect(await new Promise((r) => gen.on('exit', r))).toBe(0);
    envoy = spawn(findEnvoy().bin, ['-c', bootstrap, '--log-level', 'error', '--concurrency', '1'], { stdio: 'ignore' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.envoyAdmin}/ready`)).ok, 15000);

    expect((await chat(first.url, echoBody)).status).toBe(200);
    expect(await first.stop()).toBe(0);

    const down = await chat(first.url, echoBody);
    expect(down.status).toBe(503);
    expect(down.headers.get('content-type')).toBe('application/json');
    expect((await down.json()).error).toMatchObject({ code: 'processor_unavailable', type: 'server_error' });

    const second = await startGateway({ args: ['--no-envoy'], ports, readyPattern: /running without Envoy/ });
    try {
      const back = await waitFor(async () => {
        const r = await chat(second.url, echoBody);
        return r.status === 200 ? r : undefined;
      }, 15000, 200);
      expect((await back.json()).choices[0].message.content).toBe('ping');
    } finally {
      await second.stop();
    }
  });
});
