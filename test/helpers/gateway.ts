import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePorts } from './ports';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLIENT_KEY = 'sk-test-client-key';
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

export interface GatewayPorts {
  http: number;
  envoyAdmin: number;
  grpc: number;
  admin: number;
  echo: number;
}

export interface RunningGateway {
  url: string;
  ports: GatewayPorts;
  dir: string;
  configFile: string;
  proc: ChildProcess;
  /** Everything the gateway (processor and Envoy) printed so far. */
  output(): string;
  /** Parsed JSON log lines of the processor. */
  logs(): Record<string, any>[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface GatewayOptions {
  /** Extra top-level config merged over the test defaults (providers, plugins, server, ...). */
  config?: Record<string, any>;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Line that signals readiness (default: the "gateway ready" log line). */
  readyPattern?: RegExp;
  /** Use these ports instead of fresh ones. */
  ports?: Partial<GatewayPorts>;
}

/** The default plugin chain with the hourly quota off (tests send more than 100 requests). */
export function testPlugins(...extra: Record<string, any>[]): Record<string, any>[] {
  return [
    { use: 'request-validation' },
    { use: 'mtls-identity' },
    { use: 'virtual-keys' },
    { use: 'langchain' },
    { use: 'quota', options: { enabled: false } },
    { use: 'model-router' },
    { use: 'content-filter' },
    ...extra,
    { use: 'usage-recorder' },
  ];
}

export async function allocatePorts(): Promise<GatewayPorts> {
  const [http, envoyAdmin, grpc, admin, echo] = await freePorts(5);
  return { http, envoyAdmin, grpc, admin, echo };
}

export function gatewayConfig(ports: GatewayPorts, dir: string, extra: Record<string, any> = {}): Record<string, any> {
  const base: Record<string, any> = {
    // A short grace: a test that stops the gateway with requests still open waits no longer.
    server: { http_port: ports.http, listen_address: '127.0.0.1', shutdown_grace_seconds: 1 },
    envoy: { admin_port: ports.envoyAdmin, bootstrap_path: path.join(dir, 'envoy.yaml'), log_level: 'error', concurrency: 1 },
    processor: { grpc_port: ports.grpc, admin_port: ports.admin },
    logging: { level: 'info' },
    demo: { echo: { enabled: true, port: ports.echo, chunk_delay_ms: 0 } },
    providers: [{ name: 'echo', type: 'openai-compatible', base_url: `http://127.0.0.1:${ports.echo}/v1`, models: ['echo'] }],
    store: { data_dir: path.join(dir, 'data') },
    keys: { entries: { [CLIENT_KEY]: { name: 'test-key', user: 'tester', team: 'qa' } } },
    plugins: testPlugins(),
  };
  for (const [k, v] of Object.entries(extra)) {
    base[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' && !Array.isArray(base[k]) ? { ...base[k], ...v } : v;
  }
  return base;
}

/**
 * Starts a gateway on fresh kernel-assigned ports. Such a port is free when allocated, but a
 * client socket may take it before Envoy binds it: with ports of its own choosing, the start
 * is tried again on new ones.
 */
export async function startGateway(opts: GatewayOptions = {}): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOn({ ...(await allocatePorts()), ...opts.ports }, opts);
    } catch (err) {
      const taken = /address already in use|is already in use/i.test((err as Error).message);
      if (!taken || opts.ports || attempt >= 3) throw err;
    }
  }
}

async function startGatewayOn(ports: GatewayPorts, opts: GatewayOptions): Promise<RunningGateway> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-test-'));
  const configFile = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(configFile, YAML.stringify(gatewayConfig(ports, dir, opts.config)));
  const proc = spawn(process.execPath, [CLI, 'start', '-c', configFile, ...(opts.args ?? [])], {
    cwd: dir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const ready = opts.readyPattern ?? /"msg":"gateway ready"/;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 30000);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${ports.http}`,
    ports,
    dir,
    configFile,
    proc,
    exited,
    output: () => out,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes('"service":"llm-gateway"'))
        .map((l) => JSON.parse(l)),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const killer = setTimeout(() => proc.kill('SIGKILL'), 20000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

/** Polls until `fn` returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


export async function chat(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
