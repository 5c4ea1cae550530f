import plugin from '../../../plugins/quota';
import virtualKeys from '../../../plugins/virtual-keys';
import type { Principal, RequestQuota } from '../../../src/domain';
import { configure, createKey, createPlugin, gatewayError, optionProblems, requestContext, testHost, usageRecord, type TestHost } from './helpers';
import { unsetEnvForEachTest } from '../../helpers/env';

/** quota: the per-caller request quota it publishes to Envoy, and budgets checked against a real store. */

let h: TestHost;

unsetEnvForEachTest('QUOTA_ENABLED', 'QUOTA_LIMIT');
beforeEach(async () => {
  h = await testHost();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await h.close();
});

const key = (id: string, settings: Partial<Principal> = {}): Principal => ({ id, kind: 'api_key', quotaLimit: null, budgets: { tokens: null, usd: null }, ...settings });
const budget = (tokens: number | null, usd: number | null = null) => ({ budgets: { tokens, usd } });
/** The quota the request publishes to the rate limiter, if any. */
const quotaOf = (ctx: ReturnType<typeof requestContext>): RequestQuota | undefined => ctx.rateLimits.publication.quota;
const quota = (principal: string, limit: number, windowSeconds = 3600): RequestQuota => ({ principal, limit, windowSeconds });

describe('options', () => {
  test('defaults: hourly window, budgets enforced, spend cached 5 s; enabled and limit left to the environment', () => {
    expect(configure(plugin)).toEqual({ window_seconds: 3600, enforce_budgets: true, budget_cache_ms: 5000 });
  });

  test.each([
    ['a zero limit', { limit: 0 }],
    ['disabled', { enabled: false }],
    ['everything', { enabled: true, limit: 10, window_seconds: 60, enforce_budgets: false, budget_cache_ms: 0 }],
  ])('accepted: %s', (_name, options) => {
    expect(optionProblems(plugin, options)).toEqual([]);
  });

  test.each([
    ['a negative limit', { limit: -1 }, 'plugins[0].options.limit: must be >= 0'],
    ['a fractional limit', { limit: 1.5 }, 'plugins[0].options.limit: must be integer'],
    ['a zero window', { window_seconds: 0 }, 'plugins[0].options.window_seconds: must be >= 1'],
    ['enabled as a string', { enabled: 'yes' }, 'plugins[0].options.enabled: must be boolean'],
    ['a negative cache time', { budget_cache_ms: -5 }, 'plugins[0].options.budget_cache_ms: must be >= 0'],
    ['an unknown option', { limits: 5 }, 'plugins[0].options.limits: unknown key'],
  ])('refused: %s', (_name, options, problem) => {
    expect(optionProblems(plugin, options)).toEqual([problem]);
  });
});

describe('the request quota published to the rate limiter', () => {
  test('a key gets the default 100 requests per hour, counted per principal', async () => {
    const hooks = await createPlugin(plugin, h);
    const ctx = requestContext({ principal: key('key_1') });
    await hooks.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)).toEqual(quota('key_1', 100));
    expect(ctx.rateLimits.publication.dimensions).toEqual({});
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'request quota', enabled: true, limit: 100, window_seconds: 3600 }));
  });

  test.each([
    ['a per-key quota_limit overrides the default', key('k', { quotaLimit: 7 }), 7],
    ['a quota_limit of 0 is kept (no requests), not replaced by the default', key('k', { quotaLimit: 0 }), 0],
    ['an mTLS identity carries its quota too', { id: 'spiffe://x/a', kind: 'mtls', identity: 'spiffe://x/a', quotaLimit: 3 }, 3],
    ['a principal without settings gets the default', { id: 'k', kind: 'api_key' }, 20],
    ['a unicode principal id', { id: 'ключ-🔑', kind: 'api_key' }, 20],
  ] as [string, Principal, number][])('%s', async (_name, principal, limit) => {
    const hooks = await createPlugin(plugin, h, { limit: 20, window_seconds: 60 });
    const ctx = requestContext({ principal });
    await hooks.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)).toEqual(quota(principal.id, limit, 60));
  });

  test.each<[string, Principal | undefined]>([
    ['no principal', undefined],
    ['a JWT principal', { id: 'sub', kind: 'jwt', quotaLimit: 5 }],
    ['an anonymous principal', { id: 'anon', kind: 'anonymous' }],
  ])('%s: no quota', async (_name, principal) => {
    const hooks = await createPlugin(plugin, h);
    const ctx = requestContext({ principal });
    await hooks.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)).toBeUndefined();
    expect(ctx.rateLimits.changed).toBe(false);
  });

  test.each([
    ['QUOTA_ENABLED=off disables it', { QUOTA_ENABLED: 'off' }, {}, undefined],
    ['QUOTA_ENABLED=0 disables it', { QUOTA_ENABLED: ' 0 ' }, {}, undefined],
    ['QUOTA_ENABLED=true keeps it', { QUOTA_ENABLED: 'true' }, {}, 100],
    ['QUOTA_LIMIT sets the default limit', { QUOTA_LIMIT: '25' }, {}, 25],
    ['a non-numeric QUOTA_LIMIT falls back to 100', { QUOTA_LIMIT: 'lots' }, {}, 100],
    ['a negative QUOTA_LIMIT falls back to 100', { QUOTA_LIMIT: '-5' }, {}, 100],
    ['a fractional QUOTA_LIMIT falls back to 100', { QUOTA_LIMIT: '2.5' }, {}, 100],
    ['a QUOTA_LIMIT beyond safe integers falls back to 100', { QUOTA_LIMIT: '1e20' }, {}, 100],
    ['QUOTA_LIMIT=0 allows no requests, as limit: 0 does', { QUOTA_LIMIT: '0' }, {}, 0],
    // The environment wins over the options (the configuration file), as for every variable.
    ['QUOTA_ENABLED wins over the enabled option', { QUOTA_ENABLED: 'off' }, { enabled: true }, undefined],
    ['QUOTA_ENABLED=true wins over enabled: false', { QUOTA_ENABLED: 'true' }, { enabled: false }, 100],
    ['QUOTA_LIMIT wins over the limit option', { QUOTA_LIMIT: '25' }, { limit: 9 }, 25],
    ['an unusable QUOTA_LIMIT leaves the limit option', { QUOTA_LIMIT: 'lots' }, { limit: 9 }, 9],
    ['an empty QUOTA_LIMIT is unset', { QUOTA_LIMIT: '' }, { limit: 9 }, 9],
  ])('%s', async (_name, env, options, limit) => {
    Object.assign(process.env, env);
    const hooks = await createPlugin(plugin, h, options);
    const ctx = requestContext({ principal: key('k') });
    await hooks.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)?.limit).toBe(limit);
  });
});

describe('budgets', () => {
  const spend = (keyId: string, totalTokens: number, costUsd = 0) => h.store.usage.insertBatch([usageRecord(keyId, { totalTokens, costUsd })]);

  test.each([
    ['tokens under the token budget', budget(100), [60, 39], false],
    ['tokens reaching the token budget', budget(100), [60, 40], true],
    ['cost under the dollar budget', budget(null, 1), [0, 0], false],
    ['a zero token budget', budget(0), [], true],
  ] as [string, Partial<Principal>, number[], boolean][])('%s', async (_name, settings, tokens, refused) => {
    for (const t of tokens) await spend('key_b', t, 0.25);
    const hooks = await createPlugin(plugin, h);
    const ctx = requestContext({ principal: key('key_b', settings) });
    if (!refused) {
      await hooks.onRequestHeaders!(ctx);
      expect(quotaOf(ctx)).toEqual(quota('key_b', 100));
      return;
    }
    const err = await gatewayError(() => hooks.onRequestHeaders!(ctx));
    expect(err.status).toBe(429);
    expect(err.toBody().error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(quotaOf(ctx)).toBeUndefined();
  });

  test('the dollar budget counts cost, and only that key’s records', async () => {
    await spend('key_b', 1, 0.6);
    await spend('key_b', 1, 0.4);
    await spend('someone_else', 1, 50);
    const hooks = await createPlugin(plugin, h);
    expect((await gatewayError(() => hooks.onRequestHeaders!(requestContext({ principal: key('key_b', budget(null, 1)) })))).code).toBe('insufficient_quota');
    const other = requestContext({ principal: key('key_c', budget(null, 1)) });
    await hooks.onRequestHeaders!(other);
    expect(quotaOf(other)?.principal).toBe('key_c');
  });

  test('an mTLS identity’s budgets are checked the same way', async () => {
    await spend('spiffe://x/a', 10);
    const hooks = await createPlugin(plugin, h);
    const principal: Principal = { id: 'spiffe://x/a', kind: 'mtls', ...budget(10) };
    expect((await gatewayError(() => hooks.onRequestHeaders!(requestContext({ principal })))).status).toBe(429);
  });

  test('budgets are checked even with the request quota disabled, and not at all with enforce_budgets off', async () => {
    await spend('key_b', 500);
    const disabled = await createPlugin(plugin, h, { enabled: false });
    expect((await gatewayError(() => disabled.onRequestHeaders!(requestContext({ principal: key('key_b', budget(10)) })))).status).toBe(429);
    const lenient = await createPlugin(plugin, h, { enforce_budgets: false });
    const ctx = requestContext({ principal: key('key_b', budget(10)) });
    await lenient.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)?.principal).toBe('key_b');
  });

  test('spend is cached for budget_cache_ms, then read again', async () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const hooks = await createPlugin(plugin, h, { budget_cache_ms: 1000 });
    const principal = key('key_b', budget(100));
    await hooks.onRequestHeaders!(requestContext({ principal }));
    await spend('key_b', 150);
    now += 1000;
    await hooks.onRequestHeaders!(requestContext({ principal }));
    now += 1;
    expect((await gatewayError(() => hooks.onRequestHeaders!(requestContext({ principal })))).code).toBe('insufficient_quota');
  });

  test('with the store down: no known spend lets requests through; the last known spend still applies', async () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    await spend('over', 500);
    const hooks = await createPlugin(plugin, h, { budget_cache_ms: 10 });
    await expect(hooks.onRequestHeaders!(requestContext({ principal: key('over', budget(100)) }))).rejects.toMatchObject({ status: 429 });
    await h.store.close();
    now += 11;
    await expect(hooks.onRequestHeaders!(requestContext({ principal: key('over', budget(100)) }))).rejects.toMatchObject({ status: 429 });
    const fresh = requestContext({ principal: key('never_seen', budget(100)) });
    await hooks.onRequestHeaders!(fresh);
    expect(quotaOf(fresh)?.principal).toBe('never_seen');
    expect(h.logs.filter((l) => l.msg === 'budget check skipped: usage store unavailable')).toHaveLength(2);
  });

  test('keys without budgets never touch the store', async () => {
    const hooks = await createPlugin(plugin, h);
    await h.store.close();
    await hooks.onRequestHeaders!(requestContext({ principal: key('key_1') }));
    expect(h.logs.some((l) => l.msg?.startsWith('budget check skipped'))).toBe(false);
  });

  test('after virtual-keys: a real key’s token budget and quota_limit apply', async () => {
    const auth = await createPlugin(virtualKeys, h);
    const hooks = await createPlugin(plugin, h);
    const { id, secret } = await createKey(h, { token_budget: 50, quota_limit: 12 });
    const ctx = requestContext({ headers: { authorization: `Bearer ${secret}` } });
    await auth.onRequestHeaders!(ctx);
    await hooks.onRequestHeaders!(ctx);
    expect(quotaOf(ctx)).toEqual(quota(id, 12));
    await spend(id, 50);
    const fresh = await createPlugin(plugin, h);
    const next = requestContext({ headers: { authorization: `Bearer ${secret}` } });
    await auth.onRequestHeaders!(next);
    expect((await gatewayError(() => fresh.onRequestHeaders!(next))).code).toBe('insufficient_quota');
  });
});
