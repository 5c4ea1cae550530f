import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { allocatePorts, CLI, gatewayConfig, startGateway, testPlugins, type GatewayPorts, type RunningGateway } from '../helpers/gateway';

/**
 * Start-up and configuration errors are one clear message, never a stack trace: provider base
 * URLs that pass the schemas' shape check but cannot be used (through the providers API and
 * through check-config), and ports already taken when the gateway starts.
 */

const ADMIN = 'sk-admin-bad-urls-0123456789';
const BAD_URLS: [string, string, RegExp][] = [
  ['port out of range', 'http://127.0.0.1:99999/v1', /port 99999/],
  ['unclosed IPv6 address', 'http://[::1/v1', /IPv6/],
  ['bad percent escape in the host', 'http://api%zz.example.com/v1', /percent escape "%zz"/],
  ['bad percent escape in the path', 'https://api.example.com/v1/%g1', /percent escape "%g1"/],
];

const STACK_LINE = /^\s+at .+:\d+/m;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bad-'));
}

function runCli(args: string[], cwd: string): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('provider base_url through the providers API', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ config: { keys: { admin: [{ key: ADMIN, id: 'root' }] }, plugins: testPlugins() } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const api = (method: string, p: string, body?: unknown) =>
    fetch(`${gw.url}${p}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });

  test.each(BAD_URLS)('%s: POST and PUT answer 400 invalid_provider naming base_url, nothing is stored', async (_name, url, reason) => {
    for (const [method, p] of [['POST', '/v1/providers'], ['PUT', '/v1/providers/badurl']]) {
      const res = await api(method, p, { name: 'badurl', type: 'openai-compatible', base_url: url });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_provider', param: 'base_url' });
      expect(body.error.message).toMatch(reason);
    }
    expect((await api('GET', '/v1/providers/badurl')).status).toBe(404);
    expect(gw.output()).not.toMatch(/admin request failed/);
  });

  test('a bracketed IPv6 base URL with a port is accepted', async () => {
    const res = await api('POST', '/v1/providers', { name: 'ipv6', type: 'openai-compatible', base_url: 'http://[::1]:8000/v1' });
    expect(res.status).toBe(201);
    expect((await res.json()).base_url).toBe('http://[::1]:8000/v1');
  });
});

describe('provider base_url in gateway.yaml', () => {
  test.each(BAD_URLS)('%s: check-config and start exit 2 naming providers[1].base_url, without a stack trace', (_name, url, reason) => {
    const dir = tempDir();
    const file = path.join(dir, 'gateway.yaml');
    const providers = [
      { name: 'fine', type: 'openai-compatible', base_url: 'http://127.0.0.1:8000/v1' },
      { name: 'broken', type: 'openai-compatible', base_url: url },
    ];
    fs.writeFileSync(file, YAML.stringify({ providers, store: { data_dir: path.join(dir, 'data') } }));
    for (const command of ['check-config', 'start']) {
      const r = runCli([command, '-c', file], dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/providers\[1\]\.base_url: /);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });
});

describe('a port already in use at start', () => {
  /** Holds a port the way another program would. */
  function occupy(port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  }

  const cases: [string, keyof GatewayPorts][] = [
    ['server.http_port', 'http'],
    ['processor.grpc_port', 'grpc'],
    ['processor.admin_port', 'admin'],
  ];

  test.each(cases)('%s: one line naming the port and its setting, exit 2, nothing left running', async (key, which) => {
    const ports = await allocatePorts();
    const dir = tempDir();
    const file = path.join(dir, 'gateway.yaml');
    fs.writeFileSync(file, YAML.stringify(gatewayConfig(ports, dir)));
    const holder = await occupy(ports[which]);
    try {
      const r = runCli(['start', '-c', file], dir);
      expect(r.status).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
      expect(lines).toEqual([`llm-gateway: ${key} ${ports[which]} is already in use`]);
      expect(r.stdout + r.stderr).not.toMatch(STACK_LINE);
      // Nothing was started: the other ports are free again.
      for (const other of cases.filter(([k]) => k !== key)) {
        const s = await occupy(ports[other[1]]);
        await new Promise((done) => s.close(done));
      }
    } finally {
      await new Promise((done) => holder.close(done));
    }
  });
});
