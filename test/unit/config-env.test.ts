import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { ENV_OVERRIDES, envOverridesIn } from '../../src/config/env';
import { ConfigError, loadConfig } from '../../src/config/load';
import type { GatewayConfig } from '../../src/config/types';
import { importKeys } from '../../src/keys/config-keys';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { SqliteStore } from '../../src/store/sqlite';
import { requestContext, testHost, type TestHost } from './plugins/helpers';
import { unsetEnvForEachTest } from '../helpers/env';

/**
 * The environment variables of the earlier (Go) gateway, through the loader: for every one,
 * a value in the configuration file wins over the default, and the environment over both.
 * Each case loads a real gateway.yaml (or none: the embedded defaults) from a temp folder.
 */

let dir: string;
let cwd: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-env-'));
  // The working directory differs from the configuration's folder: relative paths tell them apart.
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-env-cwd-'));
});

/** Loads `file` as gateway.yaml (undefined: no file, the embedded defaults) with this environment. */
function load(file: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv): GatewayConfig {
  if (file === undefined) return loadConfig({ cwd, env });
  const configFile = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(configFile, YAML.stringify(file));
  return loadConfig({ path: configFile, cwd, env });
}

type Case = [name: string, file: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv, expected: unknown];

/** default / file / env / file + env, for one variable and the key it overrides. */
function precedence(variable: string, file: Record<string, unknown>, envValue: string, values: { def: unknown; file: unknown; env: unknown }): Case[] {
  return [
    [`${variable}: default`, undefined, {}, values.def],
    [`${variable}: default, with an empty file`, {}, {}, values.def],
    [`${variable}: the file wins over the default`, file, {}, values.file],
    [`${variable}: the environment wins over the default`, undefined, { [variable]: envValue }, values.env],
    [`${variable}: the environment wins over the file`, file, { [variable]: envValue }, values.env],
    [`${variable}: an empty variable is unset`, file, { [variable]: '' }, values.file],
  ];
}

describe.each<[string, (c: GatewayConfig) => unknown, Case[]]>([
  ['server.http_port', (c) => c.server.http_port, precedence('SERVER_PORT', { server: { http_port: 9100 } }, '9200', { def: 8080, file: 9100, env: 9200 })],
  [
    'server.request_timeout_seconds',
    (c) => c.server.request_timeout_seconds,
    [
      ...precedence('REQUEST_TIMEOUT', { server: { request_timeout_seconds: 30 } }, '2', { def: 600, file: 30, env: 2 }),
      ['REQUEST_TIMEOUT: fractions of a second', undefined, { REQUEST_TIMEOUT: '2.5' }, 2.5],
      ['REQUEST_TIMEOUT=0 disables the timeout, over the file', { server: { request_timeout_seconds: 30 } }, { REQUEST_TIMEOUT: '0' }, 0],
    ],
  ],
  [
    'logging.file.enabled',
    (c) => c.logging.file.enabled,
    [
      ...precedence('LOG_TO_FILE', { logging: { file: { enabled: true } } }, 'false', { def: false, file: true, env: false }),
      ['LOG_TO_FILE=true over the default', undefined, { LOG_TO_FILE: 'true' }, true],
      ['LOG_TO_FILE=1', undefined, { LOG_TO_FILE: '1' }, true],
      ['LOG_TO_FILE=TRUE', { logging: { file: { enabled: false } } }, { LOG_TO_FILE: 'TRUE' }, true],
    ],
  ],
  [
    'logging.file.path',
    (c) => c.logging.file.path,
    [
      // The file's own relative path stays relative: the logger resolves it against the file's folder.
      ...precedence('LOG_FILE_PATH', { logging: { file: { path: 'file.log' } } }, '/var/log/env.log', { def: 'logs/gateway.log', file: 'file.log', env: '/var/log/env.log' }),
      ['LOG_FILE_PATH: relative to the working directory', { logging: { file: { path: 'file.log' } } }, { LOG_FILE_PATH: 'out/env.log' }, '<cwd>/out/env.log'],
    ],
  ],
  [
    'keys.file',
    (c) => c.keys.file,
    [
      ...precedence('KEYS_FILE_PATH', { keys: { file: 'file-keys.json' } }, '/etc/gw/env-keys.json', { def: undefined, file: 'file-keys.json', env: '/etc/gw/env-keys.json' }),
      ...precedence('KEYS_FILE', { keys: { file: 'file-keys.json' } }, '/etc/gw/env-keys.json', { def: undefined, file: 'file-keys.json', env: '/etc/gw/env-keys.json' }),
      ['KEYS_FILE_PATH: relative to the working directory', undefined, { KEYS_FILE_PATH: 'keys.json' }, '<cwd>/keys.json'],
      ['KEYS_FILE_PATH wins over KEYS_FILE', { keys: { file: 'f.json' } }, { KEYS_FILE: '/a.json', KEYS_FILE_PATH: '/b.json' }, '/b.json'],
      ['an empty KEYS_FILE_PATH leaves KEYS_FILE', undefined, { KEYS_FILE: '/a.json', KEYS_FILE_PATH: '' }, '/a.json'],
    ],
  ],
])('%s', (_key, read, cases) => {
  test.each(cases)('%s', (_name, file, env, expected) => {
    const want = typeof expected === 'string' ? expected.replace('<cwd>', cwd) : expected;
    expect(read(load(file, env))).toEqual(want);
  });
});

describe('the overrides', () => {
  test('every variable the loader applies names a key it overrides', () => {
    expect(ENV_OVERRIDES.map((o) => `${o.variable} → ${o.key}`)).toEqual([
      'KEYS_FILE → keys.file',
      'KEYS_FILE_PATH → keys.file',
      'SERVER_PORT → server.http_port',
      'REQUEST_TIMEOUT → server.request_timeout_seconds',
      'LOG_TO_FILE → logging.file.enabled',
      'LOG_FILE_PATH → logging.file.path',
    ]);
    expect(envOverridesIn({ SERVER_PORT: '1', LOG_TO_FILE: '', PATH: '/bin' }).map((o) => o.variable)).toEqual(['SERVER_PORT']);
  });

  test('they leave the rest of the configuration as the file has it', () => {
    const c = load({ server: { http_port: 9100, shutdown_grace_seconds: 3 }, logging: { level: 'debug', file: { path: 'x.log' } } }, { SERVER_PORT: '9200', LOG_TO_FILE: 'yes' });
    expect(c.server).toMatchObject({ http_port: 9200, shutdown_grace_seconds: 3, request_timeout_seconds: 600 });
    expect(c.logging).toEqual({ level: 'debug', file: { enabled: true, path: 'x.log' }, bodies: { enabled: false, max_bytes: 16384 } });
  });

  test.each([
    ['SERVER_PORT', 'http', 'SERVER_PORT="http" (overrides server.http_port): must be a port number from 0 to 65535'],
    ['SERVER_PORT', '70000', 'SERVER_PORT="70000" (overrides server.http_port): must be a port number from 0 to 65535'],
    ['SERVER_PORT', '-1', 'SERVER_PORT="-1" (overrides server.http_port): must be a port number from 0 to 65535'],
    ['REQUEST_TIMEOUT', '30s', 'REQUEST_TIMEOUT="30s" (overrides server.request_timeout_seconds): must be a number of seconds (0 or more; 0 disables the timeout)'],
    ['REQUEST_TIMEOUT', '-2', 'REQUEST_TIMEOUT="-2" (overrides server.request_timeout_seconds): must be a number of seconds (0 or more; 0 disables the timeout)'],
    ['LOG_TO_FILE', 'maybe', 'LOG_TO_FILE="maybe" (overrides logging.file.enabled): must be true or false (also 1/0, yes/no, on/off)'],
  ])('%s=%s is refused at start, naming the variable', (variable, value, problem) => {
    for (const file of [undefined, { server: { http_port: 9100 } }]) {
      let err: unknown;
      try {
        load(file, { [variable]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([problem]);
      // Not blamed on the configuration file.
      expect((err as ConfigError).message).toMatch(/^invalid environment:/);
    }
  });

  test('a port moved by SERVER_PORT onto another listener is refused like one in the file', () => {
    expect(() => load({}, { SERVER_PORT: '9003' })).toThrow(/port 9003 is already used by (server\.http_port|processor\.admin_port)/);
  });
});

describe('KEYS_FILE_PATH: the keys it names are the ones imported', () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
  });
  afterEach(() => store.close());

  test.each<[string, NodeJS.ProcessEnv, Record<string, unknown>, string[]]>([
    ['keys.json beside the configuration, by default', {}, {}, ['vk-beside']],
    ['keys.file in the configuration', {}, { keys: { file: 'file-keys.json' } }, ['vk-file']],
    ['KEYS_FILE_PATH over keys.file', { KEYS_FILE_PATH: 'env-keys.json' }, { keys: { file: 'file-keys.json' } }, ['vk-env']],
    ['KEYS_FILE over keys.file', { KEYS_FILE: 'env-keys.json' }, { keys: { file: 'file-keys.json' } }, ['vk-env']],
  ])('%s', async (_name, env, file, works) => {
    const write = (folder: string, name: string, secret: string) =>
      fs.writeFileSync(path.join(folder, name), JSON.stringify({ virtual_keys: { [secret]: { provider: 'openai', api_key: 'sk-x' } } }));
    write(dir, 'keys.json', 'vk-beside');
    write(dir, 'file-keys.json', 'vk-file');
    // Relative paths in a variable are relative to the working directory, not the file's folder.
    write(cwd, 'env-keys.json', 'vk-env');
    const service = new KeyService(store.keys, new SecretBox(randomBytes(32)));
    await importKeys(load(file, env), service, pino({ level: 'silent' }), env);
    for (const secret of ['vk-beside', 'vk-file', 'vk-env']) expect([secret, (await service.authenticate(secret)).ok]).toEqual([secret, works.includes(secret)]);
  });
});

describe('QUOTA_ENABLED and QUOTA_LIMIT (read by the quota plugin) over its options in the file', () => {
  let h: TestHost;
  unsetEnvForEachTest('QUOTA_ENABLED', 'QUOTA_LIMIT');
  beforeEach(async () => {
    h = await testHost();
  });
  afterEach(async () => {
    await h.close();
  });

  const withQuota = (options: Record<string, unknown>) => ({ plugins: [{ use: 'virtual-keys' }, { use: 'quota', options }] });

  /** The default request limit the quota plugin applies, as configured (undefined: quota off). */
  async function limitOf(file: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv): Promise<number | undefined> {
    const config = load(file, {});
    const entries = config.plugins.filter((p) => p.use === 'quota');
    expect(entries).toHaveLength(1);
    Object.assign(process.env, env);
    const host = await h.load(entries.map((p) => ({ use: p.use, options: p.options })));
    const ctx = requestContext({ principal: { id: 'k', kind: 'api_key', quotaLimit: null } });
    await host.plugins[0]!.hooks.onRequestHeaders!(ctx);
    return ctx.rateLimits.publication.quota?.limit;
  }

  test.each<[string, Record<string, unknown> | undefined, NodeJS.ProcessEnv, number | undefined]>([
    // The embedded defaults list the quota plugin without options.
    ['QUOTA_LIMIT: default', undefined, {}, 100],
    ['QUOTA_LIMIT: the file wins over the default', withQuota({ limit: 9 }), {}, 9],
    ['QUOTA_LIMIT: the environment wins over the default (embedded configuration)', undefined, { QUOTA_LIMIT: '25' }, 25],
    ['QUOTA_LIMIT: the environment wins over the file', withQuota({ limit: 9 }), { QUOTA_LIMIT: '25' }, 25],
    ['QUOTA_LIMIT: an empty variable is unset', withQuota({ limit: 9 }), { QUOTA_LIMIT: '' }, 9],
    ['QUOTA_ENABLED: default', undefined, {}, 100],
    ['QUOTA_ENABLED: the file wins over the default', withQuota({ enabled: false }), {}, undefined],
    ['QUOTA_ENABLED: the environment wins over the default', undefined, { QUOTA_ENABLED: 'false' }, undefined],
    ['QUOTA_ENABLED: the environment wins over the file (false over true)', withQuota({ enabled: true, limit: 9 }), { QUOTA_ENABLED: 'false' }, undefined],
    ['QUOTA_ENABLED: the environment wins over the file (true over false)', withQuota({ enabled: false, limit: 9 }), { QUOTA_ENABLED: 'true' }, 9],
    ['QUOTA_ENABLED: an empty variable is unset', withQuota({ enabled: false }), { QUOTA_ENABLED: '' }, undefined],
  ])('%s', async (_name, file, env, limit) => {
    expect(await limitOf(file, env)).toBe(limit);
  });

  test('the plugin says which values apply', async () => {
    await limitOf(withQuota({ limit: 9, enabled: false }), { QUOTA_LIMIT: '25', QUOTA_ENABLED: 'on' });
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'request quota', enabled: true, limit: 25 }));
  });
});
