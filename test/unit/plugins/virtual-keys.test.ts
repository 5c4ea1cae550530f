import plugin from '../../../plugins/virtual-keys';
import type { PluginHooks } from '../../../src/plugins/api';
import type { Principal, ProviderTarget } from '../../../src/domain';
import { configure, createKey, createPlugin, gatewayError, harness, metricValue, optionProblems, requestContext, type TestHost } from './helpers';

/** virtual-keys against a real KeyService on an in-memory SQLite store. */

let clock = Date.parse('2030-01-01T00:00:00Z');
let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin, { now: () => clock })));
afterEach(() => h.close());

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const authenticated = (result: string) => metricValue(h.metrics, 'auth_operations_total', { operation: 'authenticate', result });
const target = (provider: string): ProviderTarget => ({ provider, type: 'openai-compatible', model: 'm' });

describe('options', () => {
  test('defaults: completion role for the generation endpoints, embedding for embeddings', () => {
    expect(configure(plugin)).toEqual({
      roles_by_endpoint: { 'chat.completions': 'completion', completions: 'completion', responses: 'completion', embeddings: 'embedding' },
    });
  });

  test('a custom role map replaces the default one', () => {
    expect(configure(plugin, { roles_by_endpoint: { models: 'admin' } })).toEqual({ roles_by_endpoint: { models: 'admin' } });
  });

  test.each([
    ['an unknown role', { roles_by_endpoint: { embeddings: 'superuser' } }, 'plugins[0].options.roles_by_endpoint.embeddings: must be one of completion, embedding, admin'],
    ['a role map that is not an object', { roles_by_endpoint: ['completion'] }, 'plugins[0].options.roles_by_endpoint: must be object'],
    ['an unknown option', { roles: {} }, 'plugins[0].options.roles: unknown key'],
    ['__proto__ as an endpoint', { roles_by_endpoint: JSON.parse('{"__proto__":"admin"}') }, expect.stringContaining('roles_by_endpoint.__proto__: not allowed as a key')],
  ])('refused: %s', (_name, options, problem) => {
    expect(optionProblems(plugin, options)).toEqual([problem]);
  });
});

describe('authentication', () => {
  test.each([
    ['Authorization: Bearer', (s: string) => bearer(s)],
    ['Authorization with a lower-case scheme and trailing spaces', (s: string) => ({ authorization: `bearer ${s}  ` })],
    ['X-API-Key', (s: string) => ({ 'X-API-Key': s })],
    ['api-key (Azure SDKs)', (s: string) => ({ 'api-key': ` ${s} ` })],
  ])('a valid key in %s becomes the principal', async (_name, headers) => {
    const { id, secret } = await createKey(h, { user: 'ann', team: 'blue' });
    const ctx = requestContext({ headers: headers(secret) });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toMatchObject({ id, kind: 'api_key', user: 'ann', team: 'blue', tier: 'standard' });
    expect(await authenticated('success')).toBe(1);
  });

  test('the principal carries the key settings, never its secret or provider credential', async () => {
    const { id, secret } = await createKey(h, {
      user: 'ann',
      team: 'blue',
      roles: ['completion'],
      provider: 'openai',
      api_key: 'sk-real-provider-key',
      allowed_models: ['gpt-4o*'],
      quota_limit: 7,
      token_budget: 1000,
      budget_usd: 2.5,
      metadata: { cost_center: 'ünïcødé ✓' },
    });
    const ctx = requestContext({ headers: bearer(secret) });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toEqual<Principal>({
      id,
      kind: 'api_key',
      user: 'ann',
      team: 'blue',
      tier: 'standard',
      roles: ['completion'],
      allowedModels: ['gpt-4o*'],
      // A key carrying one provider's credential is for that provider.
      allowedProviders: ['openai'],
      quotaLimit: 7,
      budgets: { tokens: 1000, usd: 2.5 },
      credentialFor: 'openai',
      attributes: { metadata: { cost_center: 'ünïcødé ✓' } },
    });
    expect(JSON.stringify(ctx.principal)).not.toContain(secret);
    expect(JSON.stringify(ctx.principal)).not.toContain('sk-real-provider-key');
    expect([...ctx.metadata.values()]).toEqual([]);
  });

  test('a key without settings: no restrictions, no credential', async () => {
    const { secret } = await createKey(h);
    const ctx = requestContext({ headers: bearer(secret) });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toMatchObject({
      roles: ['completion', 'embedding'],
      allowedModels: undefined,
      allowedProviders: undefined,
      user: undefined,
      team: undefined,
      quotaLimit: null,
      budgets: { tokens: null, usd: null },
      credentialFor: null,
      attributes: { metadata: {} },
    });
  });

  test('a langchain key has the langchain tier', async () => {
    const { secret } = await createKey(h, { tier: 'langchain' });
    expect(secret.startsWith('langchain-')).toBe(true);
    const ctx = requestContext({ path: '/v1/langchain/chat/completions', headers: bearer(secret) });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal?.tier).toBe('langchain');
  });

  test.each([
    ['no credential header', {}],
    ['an Authorization header that is not a bearer token', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an empty X-API-Key', { 'x-api-key': '   ' }],
  ])('%s: 401 missing_api_key', async (_name, headers) => {
    const ctx = requestContext({ headers });
    const err = await gatewayError(() => hooks.onRequestHeaders!(ctx));
    expect(err.status).toBe(401);
    expect(err.toBody().error).toMatchObject({ code: 'missing_api_key', type: 'authentication_error' });
    expect(ctx.principal).toBeUndefined();
    expect(await authenticated('missing')).toBe(1);
  });

  test.each(['sk-gw-not-a-key', '__proto__', 'constructor', 'ключ-🔑-キー'])('an unknown key %j: 401 invalid_api_key', async (secret) => {
    await createKey(h);
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ headers: { 'x-api-key': secret } })));
    expect(err.status).toBe(401);
    expect(err.toBody().error).toMatchObject({ code: 'invalid_api_key', message: 'Incorrect API key provided.' });
    expect(await authenticated('invalid')).toBe(1);
  });

  test('a revoked key: 401 revoked_api_key, at once', async () => {
    const { id, secret } = await createKey(h);
    await hooks.onRequestHeaders!(requestContext({ headers: bearer(secret) }));
    await h.keys.revoke(id);
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ headers: bearer(secret) })));
    expect([err.status, err.code]).toEqual([401, 'revoked_api_key']);
    expect(await authenticated('revoked')).toBe(1);
  });

  test('an expired key: 401 expired_api_key once its expiry time has come', async () => {
    const { secret } = await createKey(h, { expires_at: clock + 1000 });
    await hooks.onRequestHeaders!(requestContext({ headers: bearer(secret) }));
    clock += 1000;
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ headers: bearer(secret) })));
    expect([err.status, err.code]).toEqual([401, 'expired_api_key']);
    expect(await authenticated('expired')).toBe(1);
  });

  test('the key store down: 503 key_store_unavailable with retry-after, not a wrong-key 401', async () => {
    const { secret } = await createKey(h);
    await h.store.close();
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ headers: bearer(secret) })));
    expect([err.status, err.code]).toEqual([503, 'key_store_unavailable']);
    expect(err.headers).toEqual({ 'retry-after': '1' });
    expect(await authenticated('unavailable')).toBe(1);
  });
});

describe('roles', () => {
  test.each([
    ['/v1/chat/completions', ['embedding'], 'completion'],
    ['/v1/completions', ['embedding'], 'completion'],
    ['/v1/responses', ['embedding'], 'completion'],
    ['/v1/embeddings', ['completion'], 'embedding'],
  ])('%s with roles %j: 403 naming the %s role', async (path, roles, needed) => {
    const { secret } = await createKey(h, { roles });
    const ctx = requestContext({ path, headers: bearer(secret) });
    const err = await gatewayError(() => hooks.onRequestHeaders!(ctx));
    expect(err.status).toBe(403);
    expect(err.toBody().error).toMatchObject({ code: 'insufficient_permissions', type: 'permission_error' });
    expect(err.message).toBe(`This key does not have the '${needed}' role needed for ${path}.`);
    expect(ctx.principal).toBeUndefined();
    expect(await authenticated('forbidden')).toBe(1);
  });

  test('endpoints without a configured role accept any valid key', async () => {
    const { secret } = await createKey(h, { roles: ['embedding'] });
    for (const path of ['/v1/models', '/v1/models/gpt-4o', '/v1/unknown']) {
      const ctx = requestContext({ method: 'GET', path, headers: bearer(secret) });
      await hooks.onRequestHeaders!(ctx);
      expect(ctx.principal?.kind).toBe('api_key');
    }
  });

  test('a custom role map applies', async () => {
    const strict = await createPlugin(plugin, h, { roles_by_endpoint: { models: 'admin' } });
    const { secret } = await createKey(h);
    const err = await gatewayError(() => strict.onRequestHeaders!(requestContext({ method: 'GET', path: '/v1/models', headers: bearer(secret) })));
    expect(err.code).toBe('insufficient_permissions');
    // Chat no longer needs a role under this map.
    const { secret: embedOnly } = await createKey(h, { roles: ['embedding'] });
    const ctx = requestContext({ headers: bearer(embedOnly) });
    await strict.onRequestHeaders!(ctx);
    expect(ctx.principal).toBeDefined();
  });
});

describe('principals set by earlier plugins', () => {
  const mtls: Principal = { id: 'agent-a', kind: 'mtls', identity: 'spiffe://example.org/agent/a' };

  test('a principal that is not an mTLS identity stands; no key is needed', async () => {
    const earlier: Principal = { id: 'jwt-sub', kind: 'jwt' };
    const ctx = requestContext({ principal: earlier, headers: bearer('sk-gw-whatever') });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toBe(earlier);
    expect(await authenticated('success')).toBe(0);
  });

  test('an mTLS identity without a key stands', async () => {
    const ctx = requestContext({ principal: mtls });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toBe(mtls);
  });

  test('a key presented with a client certificate wins over the certificate, and that is logged', async () => {
    const { id, secret } = await createKey(h, { team: 'red' });
    const ctx = requestContext({ principal: mtls, headers: bearer(secret), log: h.log });
    await hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toMatchObject({ id, kind: 'api_key', team: 'red' });
    expect(h.logs).toContainEqual(expect.objectContaining({ principal: id, identity: 'spiffe://example.org/agent/a', msg: expect.stringContaining('the key is used') }));
  });

  test('a bad key with a client certificate is still refused', async () => {
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ principal: mtls, headers: bearer('sk-gw-wrong') })));
    expect(err.code).toBe('invalid_api_key');
  });
});

describe('provider credentials of keys', () => {
  async function authenticatedContext(spec: Parameters<typeof createKey>[1]) {
    const { secret } = await createKey(h, spec);
    const ctx = requestContext({ headers: bearer(secret) });
    await hooks.onRequestHeaders!(ctx);
    return ctx;
  }

  test('a key for one provider injects its credential for that provider only (the core refuses others)', async () => {
    const ctx = await authenticatedContext({ provider: 'openai', api_key: 'sk-openai-of-the-key' });
    expect(hooks.onUpstreamAttempt!(ctx, { number: 1, target: target('other') })).toBeUndefined();
    expect(ctx.providerCredential).toBeUndefined();
    hooks.onUpstreamAttempt!(ctx, { number: 2, target: target('openai') });
    expect(ctx.providerCredential).toBe('sk-openai-of-the-key');
  });

  test('explicit allowed_providers override the credential provider; the credential still goes only to its provider', async () => {
    const ctx = await authenticatedContext({ provider: 'openai', api_key: 'sk-openai-of-the-key', allowed_providers: ['openai', 'local'] });
    expect(ctx.principal?.allowedProviders).toEqual(['openai', 'local']);
    hooks.onUpstreamAttempt!(ctx, { number: 1, target: target('local') });
    expect(ctx.providerCredential).toBeUndefined();
  });

  test('a credential without a provider is used for any provider', async () => {
    const ctx = await authenticatedContext({ api_key: 'sk-any' });
    expect(ctx.principal?.credentialFor).toBe('*');
    hooks.onUpstreamAttempt!(ctx, { number: 1, target: target('whatever') });
    expect(ctx.providerCredential).toBe('sk-any');
  });

  test('a provider named on a key without its own credential brings none', async () => {
    const ctx = await authenticatedContext({ provider: 'openai' });
    expect(ctx.principal).toMatchObject({ allowedProviders: ['openai'], credentialFor: null });
    hooks.onUpstreamAttempt!(ctx, { number: 1, target: target('openai') });
    expect(ctx.providerCredential).toBeUndefined();
  });

  test('credentials are per request: another context gets none', async () => {
    await authenticatedContext({ api_key: 'sk-any' });
    const other = requestContext({ principal: { id: 'x', kind: 'api_key' } });
    hooks.onUpstreamAttempt!(other, { number: 1, target: target('p') });
    expect(other.providerCredential).toBeUndefined();
  });
});
