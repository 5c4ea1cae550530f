import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig, resolveSecret } from '../../src/config/load';

const parse = (raw: unknown, env: NodeJS.ProcessEnv = {}) => parseConfig(raw, '/tmp', env);

function problemsOf(raw: unknown): string[] {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway.yaml validation', () => {
  test('an empty file gives the documented defaults', () => {
    const c = parse({});
    expect(c.server).toMatchObject({ http_port: 8080, max_request_body_bytes: 10 * 1024 * 1024, listen_address: '0.0.0.0' });
    expect(c.envoy).toMatchObject({ admin_address: '127.0.0.1', admin_port: 9901, manage: true });
    expect(c.processor.grpc_port).toBe(9002);
  });

  test.each([
    [{ server: { http_prot: 1 } }, 'server.http_prot: unknown key'],
    [{ server: { http_port: 'eighty' } }, 'server.http_port: must be integer'],
    [{ server: { http_port: 70000 } }, 'server.http_port: must be <= 65535'],
    [{ envoy: { log_level: 'loud' } }, 'envoy.log_level: must be one of'],
    [{ providers: [{ name: 'x', type: 'openai-compatible' }] }, 'providers[0].base_url: is required'],
    [{ providers: [{ name: 'x', type: 'openai-compatible', base_url: 'ftp://x' }] }, 'providers[0].base_url: must match pattern'],
    [{ plugins: [{ use: 'x', on_error: 'ignore' }] }, 'plugins[0].on_error: must be one of'],
    [{ topping: 1 }, 'topping: unknown key'],
    [{ server: { http_port: 9002 } }, 'processor.grpc_port: port 9002 is already used by server.http_port'],
  ])('%j is refused naming the key', (raw, expected) => {
    expect(problemsOf(raw).join('\n')).toContain(expected);
  });

  test('the renamed envoy.drain_seconds still loads, as server.shutdown_grace_seconds unless that is set', () => {
    expect(parseConfig({ envoy: { drain_seconds: 7 } }, '/tmp').server.shutdown_grace_seconds).toBe(7);
    expect(parseConfig({ envoy: { drain_seconds: 7 }, server: { shutdown_grace_seconds: 12 } }, '/tmp').server.shutdown_grace_seconds).toBe(12);
    expect(parseConfig({}, '/tmp').server.shutdown_grace_seconds).toBe(30);
    expect(parseConfig({ envoy: { drain_seconds: 7 } }, '/tmp').envoy).not.toHaveProperty('drain_seconds');
  });

  test('duplicate provider names are refused', () => {
    const p = { type: 'openai-compatible', base_url: 'http://a' };
    expect(problemsOf({ providers: [{ name: 'a', ...p }, { name: 'a', ...p }] }).join()).toContain('duplicate provider "a"');
  });

  test('a configuration without a plugins list runs the default chain, authentication included', () => {
    const c = parse({ providers: [{ name: 'p', type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1' }] });
    expect(c.plugins.map((p) => p.use)).toContain('virtual-keys');
    expect(c.plugins.every((p) => p.enabled && p.on_error === 'fail_closed')).toBe(true);
  });

  test('${VAR} and ${VAR:-default} expand from the environment', () => {
    const c = parse({ server: { listen_address: '${HOST:-127.0.0.2}' }, providers: [{ name: 'o', type: 'openai', base_url: '${BASE}' }] }, { BASE: 'https://example.test/v1' });
    expect(c.server.listen_address).toBe('127.0.0.2');
    expect(c.providers[0].base_url).toBe('https://example.test/v1');
  });

  test('loadConfig falls back to the embedded defaults only when no path was given', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const c = loadConfig({ cwd: dir, env: {} });
    expect(c.providers.map((p) => p.name)).toEqual(['echo', 'openai', 'anthropic', 'google', 'cohere', 'meta', 'huggingface']);
    expect(c.plugins.map((p) => p.use)).toEqual(['request-validation', 'mtls-identity', 'virtual-keys', 'langchain', 'quota', 'model-router', 'content-filter', 'rate-limit-descriptors', 'budgets', 'usage-recorder']);
    expect(() => loadConfig({ cwd: dir, path: 'missing.yaml', env: {} })).toThrow(/configuration file not found/);
  });

  test('a file error names the file and the key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    fs.writeFileSync(path.join(dir, 'gateway.yaml'), 'server:\n  http_port: -1\n');
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/gateway\.yaml: invalid gateway configuration:\n  - server\.http_port: must be >= 0/);
    fs.writeFileSync(path.join(dir, 'gateway.yaml'), 'server: [unclosed\n');
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/not valid YAML/);
  });

  test('secrets resolve from env references', () => {
    expect(resolveSecret(undefined, 'K', { K: 'v' })).toBe('v');
    expect(resolveSecret('env:K', undefined, { K: 'w' })).toBe('w');
    expect(resolveSecret('literal', undefined, {})).toBe('literal');
    expect(resolveSecret(undefined, 'MISSING', {})).toBeUndefined();
  });
});
