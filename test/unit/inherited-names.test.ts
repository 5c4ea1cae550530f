import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { AdminCaller, Authenticate } from '../../src/admin/auth';
import { registerKeyRoutes } from '../../src/admin/keys-api';
import { registerProviderRoutes } from '../../src/admin/providers-api';
import { AdminRouter } from '../../src/admin/router';
import { ConfigError, loadConfig } from '../../src/config/load';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { GatewayMetrics } from '../../src/observability/metrics';
import { validatePluginOptions } from '../../src/plugins/loader';
import type { PluginDefinition } from '../../src/plugins/api';
import type { SecuritySettings } from '../../src/domain';
import { openAIError } from '../../src/providers/google/response';
import { chatBody, mimeFromUrl } from '../../src/providers/google/request';
import { toGeminiSchema } from '../../src/providers/google/schema';
import { ProviderManager } from '../../src/control/provider-manager';
import { ProviderRegistry, toRuntime } from '../../src/control/provider-registry';
import { parseContentFilters } from '../../plugins/content-filter/engine/spec';
import { SettingsService, settingsShapeProblem } from '../../src/security/settings';
import { SqliteStore } from '../../src/store/sqlite';
import type { SettingsStore } from '../../src/store/types';
import { Pricing } from '../../src/usage/pricing';
import { inheritedNameKeys, ownValue } from '../../src/domain/own';

/**
 * Names every JavaScript object has (`__proto__`, `constructor`, `toString`, ...) used as JSON
 * or YAML keys, or as values looked up in tables: refused like any unknown name where known
 * names are expected, refused in configuration and admin bodies, and never matched through
 * Object.prototype in lookups.
 */

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const log = pino({ level: 'silent' });

/** `{"<name>": value}` as JSON.parse makes it: an own property (an object literal would set the prototype). */
const keyed = (name: string, value: unknown): Record<string, unknown> => JSON.parse(`{${JSON.stringify(name)}:${JSON.stringify(value)}}`);

const CONFIGURED: SecuritySettings = { content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] };

describe('the shared helpers', () => {
  test('inheritedNameKeys finds such keys at any depth, named by path, and nothing else', () => {
    const doc = JSON.parse('{"a": [{"b": {"__proto__": 1}}], "toString": {"constructor": 2}, "ok": {"prototype": 3}}');
    expect(inheritedNameKeys(doc)).toEqual(['toString', 'a[0].b.__proto__', 'toString.constructor']);
    expect(inheritedNameKeys(doc, 'root', 1)).toEqual(['root.toString']);
    expect(inheritedNameKeys({ clean: [1, 'two', null, { three: 3 }] })).toEqual([]);
  });

  test('ownValue finds own entries only', () => {
    const table = { a: 1, ...keyed('__proto__', 2) };
    expect(ownValue(table, 'a')).toBe(1);
    expect(ownValue(table, '__proto__')).toBe(2);
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) expect(ownValue(table, name)).toBeUndefined();
  });
});

describe('gateway.yaml', () => {
  function problemsOf(yaml: string): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-names-'));
    fs.writeFileSync(path.join(dir, 'gateway.yaml'), yaml);
    try {
      loadConfig({ cwd: dir, env: {} });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error('expected the configuration to be refused');
  }

  const provider = (extra: string) => `providers:\n  - name: p\n    type: openai-compatible\n    base_url: http://127.0.0.1:1/v1\n${extra}`;
  const cases = (n: string): [string, string, string][] => [
    ['at the top level', `${n}:\n  a: 1\n`, n],
    ['in a section with known keys', `server:\n  ${n}: 1\n`, `server.${n}`],
    ['in a provider', provider(`    ${n}: x\n`), `providers[0].${n}`],
    ['as a provider header', provider(`    headers:\n      ${n}: x\n`), `providers[0].headers.${n}`],
    ['as a priced model', `pricing:\n  models:\n    ${n}: { input: 1, output: 2 }\n`, `pricing.models.${n}`],
    ['as a tier', `pricing:\n  tier_multipliers:\n    ${n}: 2\n`, `pricing.tier_multipliers.${n}`],
    ['in plugin options', `plugins:\n  - use: quota\n    options:\n      ${n}: 1\n`, `plugins[0].options.${n}`],
    ['in a rule set', `security:\n  content_filters:\n    - name: s\n      rules: []\n      ${n}: 1\n`, `security.content_filters[0].${n}`],
    ['as a model mapping key', `models:\n  - id: fast\n    provider: p\n    model: m\n    ${n}: 1\n`, `models[0].${n}`],
  ];

  test.each(NAMES.flatMap((n) => cases(n).map(([where, yaml, key]) => [n, where, yaml, key])))('%s %s is refused naming the key', (_n, _where, yaml, key) => {
    expect(problemsOf(yaml).some((p) => p.startsWith(`${key}: `))).toBe(true);
  });

  test.each(NAMES)('%s in an inline key is refused without showing the key secret', (n) => {
    const problems = problemsOf(`keys:\n  entries:\n    sk-inline-secret-0123456789:\n      metadata:\n        ${n}: 1\n`);
    expect(problems).toEqual([`keys.entries.(entry 1).metadata.${n}: not allowed as a key: every JavaScript object has a property of that name`]);
    expect(problems.join()).not.toContain('sk-inline-secret');
  });

  test('plugin options are checked even for a plugin without an options schema', () => {
    const def: PluginDefinition = { name: 'free-form', create: () => ({}) };
    for (const n of NAMES) {
      const cfg = { use: './free-form.js', enabled: true, options: { table: keyed(n, 1) }, timeout_ms: 100, on_error: 'fail_closed' as const };
      expect(() => validatePluginOptions(def, cfg, 2)).toThrow(ConfigError);
      try {
        validatePluginOptions(def, cfg, 2);
      } catch (err) {
        expect((err as ConfigError).problems).toEqual([`plugins[2].options.table.${n}: not allowed as a key: every JavaScript object has a property of that name`]);
      }
    }
  });
});

describe('security settings', () => {
  test.each(NAMES)('%s is an unknown setting', (n) => {
    expect(settingsShapeProblem({ ...CONFIGURED, ...keyed(n, { content_filtering_enabled: false }) })).toEqual({
      param: n,
      message: expect.stringContaining('unknown setting'),
    });
  });

  test.each(NAMES)('a change with %s is refused and changes nothing', async (n) => {
    const settings = new SettingsService(CONFIGURED);
    const body = { data_isolation_enabled: true, ...keyed(n, 1) };
    const result = await settings.update((current) => ({ ...current, ...body }));
    expect(result).toEqual({ ok: false, problem: { param: n, message: expect.stringContaining('unknown setting') } });
    expect(settings.current()).toEqual(CONFIGURED);
    expect(Object.keys(settings.current())).not.toContain(n);
  });

  test.each(NAMES)('%s inside the rule sets is refused naming its path', (n) => {
    const rule = { name: 'r', pattern: 'x', action: 'block' };
    const at = (sets: unknown) => {
      const r = parseContentFilters(sets, { maxPatternLength: 1000 });
      return r.ok ? undefined : r.problem.param;
    };
    expect(at([{ name: 's', rules: [], ...keyed(n, 1) }])).toBe(`content_filters[0].${n}`);
    expect(at([{ name: 's', rules: [{ ...rule, ...keyed(n, 1) }] }])).toBe(`content_filters[0].rules[0].${n}`);
    expect(at([{ name: 's', rules: [{ name: 'r', action: 'flag', detectors: [{ type: 'pii', ...keyed(n, 1) }] }] }])).toBe(`content_filters[0].rules[0].detectors[0].${n}`);
    expect(at([{ name: 's', rules: [{ ...rule, detectors: [n] }] }])).toBe('content_filters[0].rules[0].detectors[0]');
  });

  test.each(NAMES)('settings another replica stored with %s are applied without it', async (n) => {
    const stored = { ...CONFIGURED, data_isolation_enabled: true, ...keyed(n, { audit_logging_enabled: false }) } as SecuritySettings;
    const store: SettingsStore = { get: async () => ({ value: stored, version: 3 }), put: async () => 4 };
    const settings = new SettingsService(CONFIGURED);
    await settings.attach(store, log, 60_000);
    settings.stop();
    expect(settings.version).toBe(3);
    expect(settings.current()).toEqual({ ...CONFIGURED, data_isolation_enabled: true });
    expect(Object.keys(settings.current())).not.toContain(n);
  });
});

describe('keys and providers API bodies', () => {
  let store: SqliteStore;
  let router: AdminRouter;
  let registry: ProviderRegistry;

  const admin: AdminCaller = { kind: 'api_key', keyId: 'root', identity: 'root', team: null, roles: ['admin'], isAdmin: true, requestId: 'r' };
  const authenticate: Authenticate = async () => admin;
  const call = async (method: string, p: string, body: unknown) => {
    const res = await router.dispatch({ method, path: p, query: new URLSearchParams(), headers: {}, body });
    return { status: res.status, body: res.body as { error: { param: string | null; code: string | null; type: string; message: string } } };
  };

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    const box = new SecretBox(randomBytes(32));
    registry = new ProviderRegistry();
    router = new AdminRouter();
    registerKeyRoutes(router, new KeyService(store.keys, box), new GatewayMetrics({ defaultMetrics: false }), authenticate);
    registerProviderRoutes(router, registry, new ProviderManager(registry, store.providers, box, () => [], undefined, log, new Set()), authenticate);
  });

  afterEach(async () => {
    await store.close();
  });

  test.each(NAMES)('a key with %s, at the top or in its metadata, is refused naming it', async (n) => {
    for (const [body, param] of [
      [{ user: 'u', ...keyed(n, 'x') }, n],
      [{ user: 'u', metadata: { team_code: 1, ...keyed(n, { a: 1 }) } }, `metadata.${n}`],
    ] as const) {
      const res = await call('POST', '/v1/keys', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_key_settings', type: 'invalid_request_error', param });
    }
    const created = await call('POST', '/v1/keys', { user: 'u' });
    const id = (created.body as unknown as { id: string }).id;
    const patched = await call('PATCH', `/v1/keys/${id}`, { metadata: keyed(n, 1) });
    expect(patched.body.error).toMatchObject({ code: 'invalid_key_settings', param: `metadata.${n}` });
    expect((await store.keys.getById(id))!.metadata).toEqual({});
    expect(await store.keys.list()).toHaveLength(1);
  });

  test.each(NAMES)('a provider with %s, at the top or as a header name, is refused naming it', async (n) => {
    const spec = { name: 'p', type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1' };
    for (const [method, p, body, param] of [
      ['POST', '/v1/providers', { ...spec, ...keyed(n, 'x') }, n],
      ['POST', '/v1/providers', { ...spec, headers: { 'x-ok': 'v', ...keyed(n, 'v') } }, `headers.${n}`],
      ['PUT', '/v1/providers/p', { ...spec, headers: keyed(n, 'v') }, `headers.${n}`],
    ] as const) {
      const res = await call(method, p, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_provider', type: 'invalid_request_error', param });
    }
    expect(registry.all()).toEqual([]);
    expect(await store.providers.list()).toEqual([]);
  });
});

describe('lookups keyed by client or provider values', () => {
  const pricing = new Pricing({ models: { 'gpt-4o': { input: 1, output: 2 }, 'claude-*': { input: 3, output: 4 } }, tier_multipliers: { langchain: 2 } });
  const usage = { promptTokens: 1_000_000, completionTokens: 1_000_000, totalTokens: 2_000_000 };

  test.each(NAMES)('a model named %s has no price', (n) => {
    expect(pricing.priceOf(n)).toBeUndefined();
    expect(pricing.cost(n, usage)).toBeUndefined();
  });

  test.each(NAMES)('a tier named %s costs the base price', (n) => {
    expect(pricing.cost('gpt-4o', usage, n)).toBe(3);
    expect(pricing.cost('gpt-4o', usage, 'langchain')).toBe(6);
  });

  test.each(NAMES)('a chat request for the model %s resolves to no provider', (n) => {
    const typed = (type: string) => toRuntime({ name: type, type, base_url: 'http://127.0.0.1:1/v1', models: [], headers: {}, timeout_seconds: 0 });
    const registry = new ProviderRegistry([typed('openai'), typed('anthropic'), typed('google')], [{ id: 'fast', targets: [{ provider: 'openai', model: 'gpt-4o', weight: 1 }] }]);
    expect(registry.resolve(n)).toBeUndefined();
    expect(registry.candidates(n)).toEqual([]);
  });

  test.each(NAMES)('Gemini translation: %s as a property, a required name, a type, a file extension or a reasoning effort', (n) => {
    const absent = n === 'toString' ? 'valueOf' : 'toString';
    const schema = JSON.parse(
      `{"type":"object","properties":{${JSON.stringify(n)}:{"type":"string"},"x":{"type":${JSON.stringify(n)},"format":"int32"}},"required":[${JSON.stringify(n)},"${absent}"]}`,
    );
    const out = toGeminiSchema(schema)!;
    expect(Object.getPrototypeOf(out.properties)).toBe(Object.prototype);
    expect(Object.keys(out.properties as object)).toEqual([n, 'x']);
    expect(out.required).toEqual([n]);
    expect((out.properties as Record<string, unknown>).x).toEqual({ type: n });
    expect(mimeFromUrl(`https://example.test/image.${n}`)).toBe('image/jpeg');
    expect(chatBody({ model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: n }).generationConfig).toBeUndefined();
  });

  test.each(NAMES)('a Gemini error with the status %s maps to a generic error, not a crash', (n) => {
    expect(openAIError({ error: { status: n, message: 'm' } }, 400)).toMatchObject({ type: 'invalid_request_error', code: n.toLowerCase() });
  });
});
