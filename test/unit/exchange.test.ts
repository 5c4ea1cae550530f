import type { InFlight } from '../../src/core/attempts';
import { Exchange, type Continue, type Directive, type ExchangeDeps, type Respond } from '../../src/core/exchange';
import { Headers } from '../../src/core/headers';
import type { UpstreamAttempt } from '../../src/core/upstream-attempt';
import type { FallbackConfig } from '../../src/config/types';
import { GatewayError } from '../../src/domain/errors';
import { PluginHost } from '../../src/plugins/host';
import { respond, type PluginHooks, type RequestContext } from '../../src/plugins/api';
import type { JsonObject, Principal } from '../../src/domain';
import { Pricing } from '../../src/usage/pricing';
import { exchangeDeps, hooksPlugin, metricValue, testHost, type TestHost } from './plugins/helpers';

/**
 * The Exchange driven through its own methods, phase by phase, as the ext_proc session drives it:
 * with the real model-router and usage-recorder plugins, a real provider registry and
 * translators, upstream attempts, fallback planner, metrics and an in-memory usage store.
 */

const PROVIDERS = [
  { name: 'openai', type: 'openai-compatible', models: ['gpt-*'], headers: { 'x-extra': '1' } },
  { name: 'claude', type: 'anthropic', api_key: 'sk-ant-secret' },
  { name: 'byok', type: 'openai-compatible', models: ['byok-*'], api_key: undefined, api_key_env: 'GW_TEST_UNSET_KEY' },
  { name: 'slow', type: 'openai-compatible', models: ['slow-*'], timeout_seconds: 2.5 },
  { name: 'local', type: 'openai-compatible', models: ['модель', 'local-*'] },
];

interface Options {
  /** Built-in plugins to load, in order (default: model-router, usage-recorder). */
  builtins?: string[];
  /** Extra plugins, run after the built-in ones. */
  hooks?: PluginHooks[];
  fallbacks?: FallbackConfig[];
  rateLimitKinds?: ExchangeDeps['rateLimitKinds'];
}

interface Gateway {
  h: TestHost;
  ex: Exchange;
  inflight: InFlight;
  attempts: UpstreamAttempt;
  /** Contexts onComplete hooks saw. */
  completed: RequestContext[];
}

const hosts: TestHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function gateway(opts: Options = {}): Promise<Gateway> {
  const h = await testHost({ providers: PROVIDERS });
  hosts.push(h);
  const builtins = await h.load(opts.builtins ?? ['model-router', 'usage-recorder']);
  const completed: RequestContext[] = [];
  const extra = [...(opts.hooks ?? []), { onComplete: (ctx: RequestContext) => void completed.push(ctx) }];
  const plugins = new PluginHost([...builtins.plugins, ...extra.map((hooks, i) => hooksPlugin(`test-${i}`, hooks))], h.log);
  const deps = exchangeDeps(h, plugins, {
    pricing: new Pricing({ models: { 'gpt-4o': { input: 2.5, output: 10 } }, tier_multipliers: { langchain: 2 } }),
    fallbacks: opts.fallbacks,
    rateLimitKinds: opts.rateLimitKinds,
  });
  return { h, ex: new Exchange(deps), inflight: deps.inflight, attempts: deps.attempts, completed };
}

const headers = (h: Record<string, string>) => new Headers(Object.entries(h));
const requestHeaders = (extra: Record<string, string> = {}) =>
  headers({ ':method': 'POST', ':path': '/v1/chat/completions', 'x-request-id': 'client-id-1', authorization: 'Bearer client-secret', ...extra });
const chat = (model: string, extra: JsonObject = {}): JsonObject => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** Request headers, then the body: the directive for the body. */
async function send(g: Gateway, body: JsonObject | Buffer | string, extra: Record<string, string> = {}): Promise<Directive> {
  expect(await g.ex.requestHeaders(requestHeaders(extra), false)).toMatchObject({ kind: 'continue' });
  return g.ex.requestBody(Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
}

function continued(d: Directive): Continue {
  expect(d.kind).toBe('continue');
  return d as Continue;
}

function replied(d: Directive): Respond & { json: any } {
  expect(d.kind).toBe('respond');
  const r = d as Respond;
  expect(r.headers['content-type']).toBe('application/json');
  return { ...r, json: JSON.parse(r.body.toString()) };
}

const edits = (d: Directive) => Object.fromEntries(continued(d).headers ?? []);
const responseHeaders = (status: number, contentType = 'application/json', extra: Record<string, string> = {}) =>
  headers({ ':status': String(status), 'content-type': contentType, ...extra });
const settle = () => new Promise((r) => setImmediate(r));

describe('request headers', () => {
  test('the context is built from the pseudo-headers; the exchange id is minted, never the client’s x-request-id', async () => {
    const g = await gateway();
    expect(g.ex.started).toBe(false);
    await g.ex.requestHeaders(requestHeaders({ ':path': '/v1/langchain/chat/completions?api-version=2&x=y' }), false);
    expect(g.ex.started).toBe(true);
    const { request, id, requestId } = g.ex.ctx;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/langchain/chat/completions', query: 'api-version=2&x=y', endpoint: 'chat.completions', prefix: '/v1/langchain' });
    expect(requestId).toBe('client-id-1');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await gateway()).ex.ctx).toBeUndefined();
  });

  test.each([
    ['missing', {}],
    ['with control characters', { 'x-request-id': 'a\u0007b' }],
    ['too long', { 'x-request-id': 'x'.repeat(201) }],
    ['not ASCII', { 'x-request-id': 'идентификатор' }],
  ])('an x-request-id %s: the exchange id is used for correlation', async (_name, extra) => {
    const g = await gateway();
    const h = requestHeaders(extra);
    if (!('x-request-id' in extra)) h.delete('x-request-id');
    await g.ex.requestHeaders(h, false);
    expect(g.ex.ctx.requestId).toBe(g.ex.ctx.id);
  });

  test('client-supplied x-gateway-* and x-envoy-* headers are removed before anything else sees them', async () => {
    const g = await gateway();
    const d = await g.ex.requestHeaders(requestHeaders({ 'x-gateway-cluster': 'provider_evil', 'X-Envoy-Max-Retries': '50', 'x-gateway-foo': '1', 'x-other': 'kept' }), false);
    expect(continued(d).headers).toEqual(new Map([['x-gateway-cluster', null], ['x-envoy-max-retries', null], ['x-gateway-foo', null]]));
  });

  test('without edits the reply is a bare continue', async () => {
    const g = await gateway();
    expect(await g.ex.requestHeaders(requestHeaders(), false)).toEqual({ kind: 'continue' });
  });

  test.each([
    ['CONNECT', 'CONNECT', '/', 405, 'method_not_allowed'],
    ['a dot segment', 'POST', '/v1/chat/completions/../../v1/keys', 400, 'invalid_path'],
    ['an encoded dot segment', 'GET', '/v1/models/%2E%2e', 400, 'invalid_path'],
    ['a lone dot', 'GET', '/v1/./models', 400, 'invalid_path'],
  ])('%s is refused before any plugin runs', async (_name, method, path, status, code) => {
    let ran = false;
    const g = await gateway({ hooks: [{ onRequestHeaders: () => void (ran = true) }] });
    const r = replied(await g.ex.requestHeaders(headers({ ':method': method, ':path': path }), false));
    expect([r.status, r.json.error.code, r.details]).toEqual([status, code, 'gateway_plugin_response']);
    expect(ran).toBe(false);
  });

  test('a plugin answering at the request headers: its status, body and headers', async () => {
    const g = await gateway({ hooks: [{ onRequestHeaders: () => respond(418, { teapot: 'ü' }, { 'x-why': 'because' }) }] });
    const r = replied(await g.ex.requestHeaders(requestHeaders(), false));
    expect(r).toMatchObject({ status: 418, headers: { 'content-type': 'application/json', 'x-why': 'because' }, json: { teapot: 'ü' }, details: 'gateway_plugin_response' });
  });

  test('a GatewayError thrown by a plugin becomes the OpenAI error reply, with its headers', async () => {
    const g = await gateway({ hooks: [{ onRequestHeaders: () => { throw new GatewayError(503, 'key_store_unavailable', 'later', { headers: { 'retry-after': '1' } }); } }] });
    const r = replied(await g.ex.requestHeaders(requestHeaders(), false));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json).toEqual({ error: { message: 'later', type: 'server_error', param: null, code: 'key_store_unavailable' } });
  });

  test('request header edits of plugins are sent with the headers reply', async () => {
    const g = await gateway({ hooks: [{ onRequestHeaders: (ctx) => { ctx.setRequestHeader('X-Tenant', 'blue'); ctx.removeRequestHeader('x-debug'); } }] });
    expect(edits(await g.ex.requestHeaders(requestHeaders(), false))).toEqual({ 'x-tenant': 'blue', 'x-debug': null });
  });

  test('a request without a body is routed at its headers: GET /v1/models is answered by model-router', async () => {
    const g = await gateway();
    const r = replied(await g.ex.requestHeaders(headers({ ':method': 'GET', ':path': '/v1/models' }), true));
    expect(r.status).toBe(200);
    expect(r.json.data.map((m: { id: string }) => m.id)).toEqual(['модель']);
  });

  test.each([
    ['an unknown path', 'GET', '/v1/files', 404, 'unknown_url'],
    ['a model endpoint without a body', 'POST', '/v1/chat/completions', 400, 'missing_body'],
    ['a model endpoint with GET', 'GET', '/v1/embeddings', 405, 'method_not_allowed'],
  ])('%s without a body: %i %s', async (_name, method, path, status, code) => {
    const g = await gateway();
    const r = replied(await g.ex.requestHeaders(headers({ ':method': method, ':path': path }), true));
    expect([r.status, r.json.error.code]).toEqual([status, code]);
  });
});

describe('request body and routing', () => {
  test('a single target: routed, credentials replaced, the attempt prepared in the same reply', async () => {
    const g = await gateway();
    const d = continued(await send(g, chat('gpt-4o'), { 'x-api-key': 'client-other', 'accept-encoding': 'gzip' }));
    expect(Object.fromEntries(d.headers!)).toEqual({
      'x-gateway-cluster': 'provider_openai',
      authorization: 'Bearer sk-openai-secret',
      'x-api-key': null,
      'accept-encoding': null,
      'x-extra': '1',
      ':path': '/openai/v1/chat/completions',
      ':authority': '127.0.0.1:9',
    });
    expect(d.clearRouteCache).toBe(true);
    // The model is the provider's own: the body Envoy holds is sent as it is.
    expect(d.body).toBeUndefined();
    expect(g.ex.ctx.target).toEqual({ provider: 'openai', type: 'openai-compatible', model: 'gpt-4o' });
    expect(g.ex.awaitsAttempts).toBe(false);
    expect(g.inflight.size).toBe(0);
  });

  test('the client certificate is parsed for plugins and never sent upstream, nor are client credentials', async () => {
    let seen: unknown;
    const g = await gateway({ hooks: [{ onRequestHeaders: (ctx) => void (seen = [ctx.request.clientCertificate, ctx.request.presentedKey]) }] });
    const cert = 'By=spiffe://gw;Hash=ab;Subject="CN=agent,O=Ex";URI=spiffe://example.org/agent/a';
    const e = edits(await send(g, chat('gpt-4o'), { 'x-forwarded-client-cert': cert, 'api-key': 'azure-style' }));
    expect(seen).toEqual([{ identity: 'spiffe://example.org/agent/a', source: 'uri' }, 'client-secret']);
    expect(e).toMatchObject({ 'x-forwarded-client-cert': null, 'api-key': null, authorization: 'Bearer sk-openai-secret' });
  });

  test('provider/model: the body is rewritten for the provider with a matching content-length', async () => {
    const g = await gateway();
    const d = continued(await send(g, chat('local/local-7b', { temperature: 0.5 })));
    expect(JSON.parse(d.body!.toString())).toEqual(chat('local-7b', { temperature: 0.5 }));
    expect(edits(d)['content-length']).toBe(String(d.body!.length));
  });

  test('a unicode model routes, and its body is re-serialised with the byte length, not the string length', async () => {
    const g = await gateway({ hooks: [{ onRequest: (ctx) => ctx.setRequestBody({ ...ctx.request.body!, user: 'ünïcødé 👋' }) }] });
    const d = continued(await send(g, chat('модель')));
    expect(g.ex.ctx.target?.provider).toBe('local');
    const text = d.body!.toString('utf8');
    expect(JSON.parse(text)).toEqual(chat('модель', { user: 'ünïcødé 👋' }));
    expect(edits(d)['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(Number(edits(d)['content-length'])).toBeGreaterThan(text.length);
  });

  test('an Anthropic target: a native Messages request with the provider’s own credential header', async () => {
    const g = await gateway();
    const d = continued(await send(g, chat('claude-3-5-haiku', { max_tokens: 20 })));
    const e = edits(d);
    expect(e).toMatchObject({ 'x-gateway-cluster': 'provider_claude', 'x-api-key': 'sk-ant-secret', ':path': '/claude/v1/messages', authorization: null });
    expect(JSON.parse(d.body!.toString())).toMatchObject({ model: 'claude-3-5-haiku', max_tokens: 20, messages: [{ role: 'user' }] });
  });

  test('a provider timeout becomes Envoy’s per-request timeout', async () => {
    const g = await gateway();
    expect(edits(await send(g, chat('slow-1')))['x-envoy-upstream-rq-timeout-ms']).toBe('2500');
  });

  test.each([
    ['malformed UTF-8', Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 400, 'invalid_encoding', null],
    ['a truncated 4-byte character', Buffer.concat([Buffer.from('{"model":"'), Buffer.from('👋').subarray(0, 3), Buffer.from('"}')]), 400, 'invalid_encoding', null],
    ['broken JSON', '{"model":', 400, 'invalid_json', null],
    ['a JSON array', '[1,2]', 400, 'invalid_request_body', null],
    ['a JSON string', '"hello"', 400, 'invalid_request_body', null],
    ['JSON null', 'null', 400, 'invalid_request_body', null],
    ['an empty body', '', 400, 'missing_body', null],
    ['no model', { messages: [] }, 400, 'missing_required_parameter', 'model'],
    ['a null model', { model: null }, 400, 'missing_required_parameter', 'model'],
    ['an empty model', { model: '' }, 400, 'missing_required_parameter', 'model'],
    ['a numeric model', { model: 4 }, 400, 'invalid_type', 'model'],
    ['a model of 257 characters', { model: `gpt-${'x'.repeat(253)}` }, 400, 'invalid_value', 'model'],
    ['a model with a tab', { model: 'gpt-4o\t' }, 400, 'invalid_value', 'model'],
    ['a model with a newline', { model: 'gpt-4o\nx-injected: 1' }, 400, 'invalid_value', 'model'],
    ['an unknown model', chat('nothing-like-it'), 404, 'model_not_found', 'model'],
    ['__proto__ as the model', chat('__proto__'), 404, 'model_not_found', 'model'],
  ] as [string, JsonObject | Buffer | string, number, string, string | null][])('%s: %i %s', async (_name, body, status, code, param) => {
    const g = await gateway();
    const r = replied(await send(g, body));
    expect(r.status).toBe(status);
    expect(r.json.error).toMatchObject({ code, param });
    expect(g.ex.ctx.target).toBeUndefined();
  });

  test('a model of exactly 256 characters is accepted', async () => {
    const g = await gateway();
    continued(await send(g, chat(`gpt-${'x'.repeat(252)}`)));
    expect(g.ex.ctx.target?.model).toHaveLength(256);
  });

  test('GET on a model endpoint: 405 naming POST', async () => {
    const g = await gateway();
    await g.ex.requestHeaders(headers({ ':method': 'GET', ':path': '/v1/chat/completions' }), false);
    const r = replied(await g.ex.requestBody(Buffer.from(JSON.stringify(chat('gpt-4o')))));
    expect([r.status, r.json.error.message]).toEqual([405, 'GET is not allowed on /v1/chat/completions; use POST.']);
  });

  test('a target naming a provider that does not exist: 404 model_not_found', async () => {
    const g = await gateway({ hooks: [{ onRequest: (ctx) => void (ctx.target = { provider: 'ghost', type: 'openai-compatible', model: 'x' }) }] });
    const r = replied(await send(g, chat('gpt-4o')));
    expect([r.status, r.json.error.code, r.json.error.message]).toEqual([404, 'model_not_found', 'The model `gpt-4o` does not exist or you do not have access to it.']);
  });

  test('a provider without its key: 503 provider_not_configured, unless the caller brings one', async () => {
    const g = await gateway();
    const r = replied(await send(g, chat('byok-1')));
    expect([r.status, r.json.error.code]).toEqual([503, 'provider_not_configured']);

    // A caller bringing its own credential for that provider (or for any: '*').
    for (const credentialFor of ['byok', '*']) {
      const byok = await gateway({
        hooks: [
          {
            onRequestHeaders: (ctx) => void (ctx.principal = { id: 'key_1', kind: 'api_key', credentialFor }),
            onUpstreamAttempt: (ctx) => ctx.setProviderCredential('sk-of-the-caller'),
          },
        ],
      });
      expect(edits(await send(byok, chat('byok-1')))).toMatchObject({ 'x-gateway-cluster': 'provider_byok', authorization: 'Bearer sk-of-the-caller' });
    }
    // A credential for another provider does not count.
    const other = await gateway({ hooks: [{ onRequestHeaders: (ctx) => void (ctx.principal = { id: 'key_1', kind: 'api_key', credentialFor: 'openai' }) }] });
    expect(replied(await send(other, chat('byok-1'))).status).toBe(503);
  });

  test('an onUpstreamAttempt refusal is the reply, and the status the exchange ends with', async () => {
    const g = await gateway({ hooks: [{ onUpstreamAttempt: () => { throw new GatewayError(403, 'provider_not_allowed', 'no'); } }] });
    const r = replied(await send(g, chat('gpt-4o')));
    expect([r.status, r.json.error.code]).toEqual([403, 'provider_not_allowed']);
    g.ex.finish('responded');
    expect(g.ex.ctx.finalStatus).toBe(403);
  });

  test('plugin edits to the request body go upstream with a new content-length', async () => {
    const g = await gateway({ hooks: [{ onRequest: (ctx) => ctx.setRequestBody({ ...ctx.request.body!, user: 'stamped' }) }] });
    const d = continued(await send(g, chat('gpt-4o')));
    expect(JSON.parse(d.body!.toString())).toEqual(chat('gpt-4o', { user: 'stamped' }));
    expect(edits(d)['content-length']).toBe(String(d.body!.length));
  });

  test('header edits from onRequest and onUpstreamAttempt are merged into the routing reply', async () => {
    const g = await gateway({
      hooks: [{ onRequest: (ctx) => ctx.setRequestHeader('x-from-request', '1'), onUpstreamAttempt: (ctx, a) => ctx.setRequestHeader('x-attempt', String(a.number)) }],
    });
    expect(edits(await send(g, chat('gpt-4o')))).toMatchObject({ 'x-from-request': '1', 'x-attempt': '1' });
  });

  test('fallbacks: the request goes to a chain cluster and waits for per-attempt streams, found by the exchange id', async () => {
    const g = await gateway({ fallbacks: [{ model: 'gpt-4o', fallback_models: ['claude-3-5-haiku'], on: [429] }] });
    const d = continued(await send(g, chat('gpt-4o')));
    expect(Object.fromEntries(d.headers!)).toEqual({ 'x-gateway-cluster': 'chain_0_openai', authorization: null });
    expect(g.ex.awaitsAttempts).toBe(true);
    expect(g.inflight.get(g.ex.ctx.id)?.plan.targets.map((t) => t.provider)).toEqual(['openai', 'claude']);
    expect(g.ex.withMetadata(d)).toEqual({ ...d, published: { exchangeId: g.ex.ctx.id } });
    g.ex.finish('completed');
    expect(g.ex.awaitsAttempts).toBe(false);
    expect(g.inflight.size).toBe(0);
  });
});

describe('what a reply publishes to Envoy', () => {
  test('plugin metadata, rate limit dimensions and quota, and the applicable checks go out once, with the next continue', async () => {
    const seen: unknown[][] = [];
    const g = await gateway({
      hooks: [
        {
          onRequest(ctx) {
            ctx.setDynamicMetadata('tenant', 'blue');
            ctx.rateLimits.setDimension('key', 'key_1');
            ctx.rateLimits.setQuota({ principal: 'key_1', limit: 5, windowSeconds: 60 });
          },
        },
      ],
      rateLimitKinds: (publication, metadata) => (seen.push([structuredClone(publication), new Map(metadata)]), ['requests', 'tokens']),
    });
    const d = await send(g, chat('gpt-4o'));
    expect(seen).toEqual([[{ dimensions: { key: 'key_1' }, quota: { principal: 'key_1', limit: 5, windowSeconds: 60 } }, new Map([['tenant', 'blue']])]]);
    expect(g.ex.withMetadata(d)).toEqual({
      ...d,
      published: {
        metadata: new Map([['tenant', 'blue']]),
        rateLimit: { dimensions: { key: 'key_1' }, quota: { principal: 'key_1', limit: 5, windowSeconds: 60 } },
        checks: ['requests', 'tokens'],
      },
    });
    expect(g.ex.withMetadata(d)).toBe(d);
  });

  test('no applicable rate limit: no checks published', async () => {
    const g = await gateway({ rateLimitKinds: () => [] });
    const d = await send(g, chat('gpt-4o'));
    expect(g.ex.withMetadata(d)).toBe(d);
  });

  test('a reply to the client carries nothing', async () => {
    const g = await gateway({ hooks: [{ onRequestHeaders: (ctx) => (ctx.setDynamicMetadata('k', 'v'), ctx.rateLimits.setDimension('key', 'k'), respond(401, {})) }] });
    const d = await g.ex.requestHeaders(requestHeaders(), false);
    expect(g.ex.withMetadata(d)).toBe(d);
  });

  test('what is published at the request headers goes with the headers reply', async () => {
    const g = await gateway({ hooks: [{ onRequestHeaders: (ctx) => ctx.rateLimits.setDimension('user', 'ann') }] });
    const d = await g.ex.requestHeaders(requestHeaders(), false);
    expect(g.ex.withMetadata(d)).toEqual({ kind: 'continue', published: { rateLimit: { dimensions: { user: 'ann' } } } });
  });
});

describe('access policy: allowed models and providers, whatever plugin routes', () => {
  const route = (provider: string, model: string): PluginHooks => ({
    onRequest: (ctx) => void (ctx.target = { provider, type: 'openai-compatible', model }),
  });
  const as = (principal: Principal): PluginHooks => ({ onRequestHeaders: (ctx) => void (ctx.principal = principal) });

  test('a routing plugin of one’s own cannot route around allowed_models', async () => {
    const g = await gateway({ builtins: ['usage-recorder'], hooks: [as({ id: 'k', kind: 'api_key', allowedModels: ['gpt-4o'] }), route('local', 'local-1')] });
    const r = replied(await send(g, chat('local-1')));
    expect([r.status, r.json.error.code, r.json.error.param]).toEqual([403, 'model_not_allowed', 'model']);
    expect(g.ex.ctx.target).toBeUndefined();
  });

  test('a principal set after routing is still checked before the request goes anywhere', async () => {
    const late: PluginHooks = { onRequest: (ctx) => void (ctx.principal = { id: 'k', kind: 'api_key', allowedModels: ['claude-*'] }) };
    const g = await gateway({ hooks: [late] });
    const r = replied(await send(g, chat('gpt-4o')));
    expect([r.status, r.json.error.code]).toEqual([403, 'model_not_allowed']);
  });

  test.each<[string, Principal, string]>([
    ['a key', { id: 'k', kind: 'api_key', allowedProviders: ['local'] }, 'This key is not allowed to use the provider `openai`.'],
    ['an identity', { id: 'spiffe://x/a', kind: 'mtls', allowedProviders: ['local'] }, 'This identity is not allowed to use the provider `openai`.'],
  ])('%s restricted to other providers: 403 provider_not_allowed before any attempt hook', async (_name, principal, message) => {
    let attempted = false;
    const g = await gateway({ hooks: [as(principal), { onUpstreamAttempt: () => void (attempted = true) }] });
    const r = replied(await send(g, chat('gpt-4o')));
    expect(r).toMatchObject({ status: 403, details: 'gateway_access_denied' });
    expect(r.json.error).toEqual({ code: 'provider_not_allowed', type: 'permission_error', param: 'model', message });
    expect(attempted).toBe(false);
  });

  test('a fallback to a provider the caller may not use is refused for that attempt only', async () => {
    const g = await gateway({
      fallbacks: [{ model: 'gpt-4o', fallback_models: ['claude-3-5-haiku'], on: [429] }],
      hooks: [as({ id: 'k', kind: 'api_key', allowedProviders: ['openai'] })],
    });
    continued(await send(g, chat('gpt-4o')));
    const first = continued(await g.attempts.requestHeaders('openai', g.ex.ctx.id));
    expect(edits(first)[':path']).toBe('/openai/v1/chat/completions');
    const fallback = replied(await g.attempts.requestHeaders('claude', g.ex.ctx.id));
    expect([fallback.status, fallback.json.error.code]).toEqual([403, 'provider_not_allowed']);
  });

  test('empty lists restrict nothing', async () => {
    const g = await gateway({ hooks: [as({ id: 'k', kind: 'api_key', allowedModels: [], allowedProviders: [] })] });
    expect(edits(await send(g, chat('gpt-4o')))['x-gateway-cluster']).toBe('provider_openai');
  });
});

describe('buffered responses', () => {
  async function routed(opts: Options = {}, model = 'gpt-4o') {
    const g = await gateway(opts);
    continued(await send(g, chat(model)));
    return g;
  }
  const completion = { id: 'c1', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [], usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 } };

  test('response headers: which provider served it, and buffered delivery for JSON', async () => {
    const g = await routed();
    const d = continued(await g.ex.responseHeaders(responseHeaders(200, 'application/json; charset=utf-8'), false));
    expect(d).toEqual({ kind: 'continue', headers: new Map([['x-gateway-provider', 'openai'], ['x-gateway-served-by', 'openai/gpt-4o']]), streamResponse: false });
    expect(g.ex.ctx.response).toMatchObject({ status: 200, streamed: false });
  });

  test('Envoy’s attempt count replaces its own header with x-gateway-attempts', async () => {
    const g = await routed();
    const e = edits(await g.ex.responseHeaders(responseHeaders(200, 'application/json', { 'x-envoy-attempt-count': '3' }), false));
    expect(e).toMatchObject({ 'x-envoy-attempt-count': null, 'x-gateway-attempts': '3' });
  });

  test('the caller’s rate limits from the rate limit service replace the provider’s x-ratelimit-* headers', async () => {
    const g = await routed();
    const e = edits(
      await g.ex.responseHeaders(
        responseHeaders(200, 'application/json', {
          'x-gateway-ratelimit-limit-requests': '100',
          'x-gateway-ratelimit-remaining-requests': '99',
          'x-gateway-ratelimit-reset-tokens': '42s',
          'x-gateway-ratelimit-unknown': 'x',
          'x-ratelimit-limit-tokens': '1000000',
        }),
        false,
      ),
    );
    expect(e).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-gateway-ratelimit-limit-requests': null,
      'x-ratelimit-remaining-requests': '99',
      'x-gateway-ratelimit-remaining-requests': null,
      'x-ratelimit-reset-tokens': '42s',
      'x-gateway-ratelimit-reset-tokens': null,
      'x-gateway-provider': 'openai',
      'x-gateway-served-by': 'openai/gpt-4o',
    });
  });

  test('usage and the served model are read; the total tokens are published for the rate limiter', async () => {
    const g = await routed();
    await g.ex.responseHeaders(responseHeaders(200), false);
    const d = await g.ex.responseBody(Buffer.from(JSON.stringify(completion)), true);
    expect(continued(d)).toEqual({ kind: 'continue', headers: new Map() });
    expect(g.ex.ctx.usage).toEqual({ promptTokens: 1000, completionTokens: 500, totalTokens: 1500 });
    expect(g.ex.ctx.servedModel).toBe('gpt-4o-2024-08-06');
    expect(g.ex.ctx.timeToFirstByteMs).toBeGreaterThanOrEqual(0);
    expect(g.ex.withMetadata(d)).toEqual({ ...d, published: { tokens: 1500 } });
  });

  test.each([
    ['an HTML error page', 502, 'text/html', '<html>bad gateway</html>'],
    ['an empty error body', 500, 'application/json', ''],
    ['JSON without an error object', 429, 'application/json', '{"detail":"slow down"}'],
  ])('%s becomes an OpenAI error body', async (_name, status, contentType, body) => {
    const g = await routed();
    await g.ex.responseHeaders(responseHeaders(status, contentType), false);
    const d = continued(await g.ex.responseBody(Buffer.from(body), true));
    expect(JSON.parse(d.body!.toString())).toEqual({ error: { message: `The provider answered with HTTP ${status}.`, type: status === 429 ? 'rate_limit_error' : 'server_error', param: null, code: 'upstream_error' } });
    expect(edits(d)).toMatchObject({ 'content-type': 'application/json', 'content-length': String(d.body!.length) });
    expect(g.ex.ctx.usage).toBeUndefined();
  });

  test('an OpenAI-shaped error passes unchanged', async () => {
    const g = await routed();
    await g.ex.responseHeaders(responseHeaders(400), false);
    const d = continued(await g.ex.responseBody(Buffer.from('{"error":{"message":"bad","type":"invalid_request_error"}}'), true));
    expect(d.body).toBeUndefined();
  });

  test('a non-JSON success body passes untouched', async () => {
    const g = await routed();
    await g.ex.responseHeaders(responseHeaders(200, 'text/plain'), false);
    expect(continued(await g.ex.responseBody(Buffer.from('{"usage":{"total_tokens":5}}'), true)).body).toBeUndefined();
    expect(g.ex.ctx.usage).toBeUndefined();
  });

  test('onResponse may rewrite the body (new content-length) or replace the response', async () => {
    const stamp = await routed({ hooks: [{ onResponse: (ctx) => { ctx.setResponseBody({ ...(ctx.response!.body as JsonObject), stamped: 'ü' }); ctx.setResponseHeader('x-stamped', '1'); } }] });
    await stamp.ex.responseHeaders(responseHeaders(200), false);
    const d = continued(await stamp.ex.responseBody(Buffer.from(JSON.stringify(completion)), true));
    expect(JSON.parse(d.body!.toString())).toEqual({ ...completion, stamped: 'ü' });
    expect(edits(d)).toMatchObject({ 'x-stamped': '1', 'content-length': String(d.body!.length), 'content-type': 'application/json' });

    const block = await routed({ hooks: [{ onResponse: () => respond(451, { error: { message: 'no' } }) }] });
    await block.ex.responseHeaders(responseHeaders(200), false);
    expect(replied(await block.ex.responseBody(Buffer.from(JSON.stringify(completion)), true))).toMatchObject({ status: 451, json: { error: { message: 'no' } } });
    block.ex.finish('responded');
    expect(block.ex.ctx.finalStatus).toBe(451);
  });

  test('onResponseHeaders may answer instead', async () => {
    const g = await routed({ hooks: [{ onResponseHeaders: (ctx) => (ctx.response!.status === 500 ? respond(502, { error: { message: 'upstream broke' } }) : undefined) }] });
    expect(replied(await g.ex.responseHeaders(responseHeaders(500), false)).status).toBe(502);
  });

  test('Anthropic: its native body is translated to a chat completion with usage; 529 becomes 503', async () => {
    const g = await routed({}, 'claude-3-5-haiku');
    expect(edits(await g.ex.responseHeaders(responseHeaders(200), false))).toMatchObject({ 'x-gateway-provider': 'claude', 'x-gateway-served-by': 'claude/claude-3-5-haiku' });
    const native = { id: 'msg_1', type: 'message', model: 'claude-3-5-haiku-20241022', content: [{ type: 'text', text: 'Grüße 👋' }], stop_reason: 'end_turn', usage: { input_tokens: 9, output_tokens: 4 } };
    const d = continued(await g.ex.responseBody(Buffer.from(JSON.stringify(native)), true));
    expect(JSON.parse(d.body!.toString())).toMatchObject({ object: 'chat.completion', model: 'claude-3-5-haiku-20241022', choices: [{ message: { content: 'Grüße 👋' }, finish_reason: 'stop' }] });
    expect(g.ex.ctx.usage).toMatchObject({ promptTokens: 9, completionTokens: 4, totalTokens: 13 });

    const busy = await routed({}, 'claude-3-5-haiku');
    expect(edits(await busy.ex.responseHeaders(responseHeaders(529), false))[':status']).toBe('503');
    expect(busy.ex.ctx.response!.status).toBe(503);
    const err = continued(await busy.ex.responseBody(Buffer.from('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'), true));
    expect(JSON.parse(err.body!.toString()).error).toMatchObject({ code: 'overloaded', message: 'Overloaded' });
  });

  test('a body without response headers (a local reply) is let through', async () => {
    const g = await routed();
    expect(await g.ex.responseBody(Buffer.from('x'), true)).toEqual({ kind: 'continue' });
  });
});

describe('streamed responses', () => {
  const data = (o: unknown) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
  const chunk = (content: string, extra: object = {}) => ({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: { content } }], ...extra });
  const usageChunk = { id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } };

  async function streaming(opts: Options = {}, body: JsonObject = chat('gpt-4o', { stream: true })) {
    const g = await gateway(opts);
    continued(await send(g, body));
    expect(continued(await g.ex.responseHeaders(responseHeaders(200, 'text/event-stream; charset=utf-8'), false)).streamResponse).toBe(true);
    return g;
  }
  const bodyOf = (d: Directive) => continued(d).body?.toString('utf8');

  test('the gateway asks for usage, reads it from the usage chunk, and hides that chunk from the client', async () => {
    const g = await gateway();
    const routedBody = continued(await send(g, chat('gpt-4o', { stream: true })));
    expect(JSON.parse(routedBody.body!.toString()).stream_options).toEqual({ include_usage: true });
    await g.ex.responseHeaders(responseHeaders(200, 'text/event-stream'), false);
    const first = await g.ex.responseBody(Buffer.from(data(chunk('Hi'))), false);
    expect(bodyOf(first)).toBe(data(chunk('Hi')));
    // Token usage is published once, with the last reply.
    expect(g.ex.withMetadata(first)).toBe(first);
    const last = await g.ex.responseBody(Buffer.from(data(usageChunk) + data('[DONE]')), true);
    expect(bodyOf(last)).toBe(data('[DONE]'));
    expect(g.ex.ctx.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
    expect(g.ex.ctx.servedModel).toBe('gpt-4o-2024-08-06');
    expect(g.ex.withMetadata(last)).toEqual({ ...last, published: { tokens: 10 } });
  });

  test('a character split across network chunks reaches hooks and the client whole', async () => {
    const seen: string[] = [];
    const g = await streaming({ hooks: [{ onResponseChunk: (_ctx, ev) => void seen.push(ev.data) }] });
    const bytes = Buffer.from(data(chunk('añ 👋 ok')) + data('[DONE]'));
    const cut = bytes.indexOf(Buffer.from('👋')) + 2;
    const out = bodyOf(await g.ex.responseBody(bytes.subarray(0, cut), false))! + bodyOf(await g.ex.responseBody(bytes.subarray(cut), true))!;
    expect(out).toBe(bytes.toString('utf8'));
    expect(JSON.parse(seen[0]).choices[0].delta.content).toBe('añ 👋 ok');
  });

  test('an event split across chunks is held back until it completes; the end flushes an unterminated one', async () => {
    const g = await streaming({ hooks: [{ onResponseChunk: () => undefined }] });
    const text = data(chunk('a')) + data(chunk('b'));
    expect(bodyOf(await g.ex.responseBody(Buffer.from(text.slice(0, text.length - 10)), false))).toBe(data(chunk('a')));
    expect(bodyOf(await g.ex.responseBody(Buffer.from(text.slice(text.length - 10) + 'data: [DONE]'), true))).toBe(data(chunk('b')) + data('[DONE]'));
  });

  test('chunk hooks can replace, drop and insert events', async () => {
    const g = await streaming({
      hooks: [
        {
          onResponseChunk(_ctx, ev) {
            const content = (ev.json as any)?.choices?.[0]?.delta?.content;
            if (content === 'drop me') ev.drop();
            else if (content === 'shout') ev.replace({ shouted: 'SHOUT' });
            else if (ev.data === '[DONE]') ev.insertBefore({ note: 'bye' });
          },
        },
      ],
    });
    const d = await g.ex.responseBody(Buffer.from(data(chunk('drop me')) + data(chunk('shout')) + data(chunk('keep')) + data('[DONE]')), true);
    expect(bodyOf(d)).toBe(data({ shouted: 'SHOUT' }) + data(chunk('keep')) + data({ note: 'bye' }) + data('[DONE]'));
  });

  test('a chunk hook that short-circuits ends the stream with an error event and [DONE]; later events are dropped', async () => {
    const block = { error: { message: 'blocked', type: 'invalid_request_error', param: null, code: 'content_filtered' } };
    const g = await streaming({ hooks: [{ onResponseChunk: (_ctx, ev) => (ev.data.includes('secret') ? respond(400, block) : undefined) }] });
    const first = await g.ex.responseBody(Buffer.from(data(chunk('ok')) + data(chunk('secret')) + data(chunk('after'))), false);
    expect(bodyOf(first)).toBe(data(chunk('ok')) + data(block) + data('[DONE]'));
    expect(bodyOf(await g.ex.responseBody(Buffer.from(data(chunk('more')) + data('[DONE]')), true))).toBe('');
  });

  test('without chunk hooks or translation the bytes pass untouched; an onResponse refusal is appended at the end', async () => {
    const body = chat('gpt-4o', { stream: true, stream_options: { include_usage: true } });
    const plain = await streaming({ builtins: ['model-router'] }, body);
    expect(await plain.ex.responseBody(Buffer.from(data(chunk('a'))), false)).toEqual({ kind: 'continue' });
    const end = await plain.ex.responseBody(Buffer.from(data(usageChunk) + data('[DONE]')), true);
    expect(end).toEqual({ kind: 'continue' });
    expect(plain.ex.ctx.usage?.totalTokens).toBe(10);

    const refusing = await streaming({ builtins: ['model-router'], hooks: [{ onResponse: () => respond(400, { error: { message: 'late' } }) }] }, body);
    expect(bodyOf(await refusing.ex.responseBody(Buffer.from(data('[DONE]')), true))).toBe(data('[DONE]') + data({ error: { message: 'late' } }) + data('[DONE]'));
  });

  test('Anthropic: native stream events become OpenAI chunks; the usage the gateway asked for is read, then hidden', async () => {
    const g = await streaming({}, chat('claude-3-5-haiku', { stream: true, max_tokens: 10 }));
    const native = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
    const upstream =
      native('message_start', { message: { id: 'msg_1', model: 'claude-3-5-haiku-20241022', usage: { input_tokens: 12, output_tokens: 1 } } }) +
      native('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      native('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Grüße' } }) +
      native('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }) +
      native('message_stop', {});
    const out = bodyOf(await g.ex.responseBody(Buffer.from(upstream), true))!;
    const events = out.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? null)).toEqual(['', 'Grüße', null]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, null, 'stop']);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'claude-3-5-haiku-20241022')).toBe(true);
    expect(g.ex.ctx.usage).toMatchObject({ promptTokens: 12, completionTokens: 5, totalTokens: 17 });
    expect(g.ex.ctx.servedModel).toBe('claude-3-5-haiku-20241022');
  });
});

describe('finishing', () => {
  async function served(opts: Options = {}) {
    const g = await gateway(opts);
    continued(await send(g, chat('gpt-4o'), { ':path': '/v1/chat/completions' }));
    await g.ex.responseHeaders(responseHeaders(200), false);
    await g.ex.responseBody(Buffer.from(JSON.stringify({ model: 'gpt-4o-2024-08-06', usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 } })), true);
    return g;
  }

  test('a completed request: status, outcome, duration and cost set before onComplete; metrics; one usage record', async () => {
    const g = await served();
    g.ex.finish('completed');
    await settle();
    const ctx = g.ex.ctx;
    expect(g.completed).toEqual([ctx]);
    expect(ctx).toMatchObject({ finalStatus: 200, outcome: 'completed' });
    expect(ctx.durationMs).toBeGreaterThanOrEqual(0);
    // gpt-4o-2024-08-06 has no price: the target model's price applies.
    expect(ctx.costUsd).toBe(0.0075);
    const labels = { provider: 'openai', model: 'gpt-4o' };
    expect(await metricValue(g.h.metrics, 'gateway_requests_total', { ...labels, endpoint: 'chat.completions', status: '200' })).toBe(1);
    expect(await metricValue(g.h.metrics, 'gateway_tokens_total', { ...labels, kind: 'completion' })).toBe(500);
    expect(await metricValue(g.h.metrics, 'gateway_cost_usd_total', labels)).toBe(0.0075);
    expect(await g.h.usageRecords()).toEqual([
      expect.objectContaining({ id: ctx.id, requestId: 'client-id-1', provider: 'openai', modelRequested: 'gpt-4o', modelServed: 'gpt-4o-2024-08-06', totalTokens: 1500, costUsd: 0.0075, status: 200, outcome: 'completed', streamed: false }),
    ]);
    const line = g.h.logs.find((l) => l.msg === 'request');
    expect(line).toMatchObject({ exchange_id: ctx.id, request_id: 'client-id-1', status: 200, outcome: 'completed', provider: 'openai', total_tokens: 1500 });
    expect(JSON.stringify(g.h.logs)).not.toContain('client-secret');
    expect(JSON.stringify(g.h.logs)).not.toContain('sk-openai-secret');
  });

  test('finish runs once, whatever calls it again', async () => {
    const g = await served();
    g.ex.finish('completed');
    g.ex.finish('cancelled');
    await settle();
    expect(g.completed).toHaveLength(1);
    expect(g.ex.ctx.outcome).toBe('completed');
  });

  test.each([
    ['cancelled', 499],
    ['interrupted', 503],
    ['failed', 503],
  ] as const)('%s before any response: status %i, recorded with its outcome', async (outcome, status) => {
    const g = await gateway();
    continued(await send(g, chat('gpt-4o')));
    g.ex.finish(outcome);
    await settle();
    expect(g.ex.ctx).toMatchObject({ finalStatus: status, outcome });
    expect(g.ex.ctx.costUsd).toBeUndefined();
    expect((await g.h.usageRecords())[0]).toMatchObject({ status, outcome, provider: 'openai', totalTokens: 0 });
  });

  test('a reply of the gateway itself ends with its status and the outcome responded', async () => {
    const g = await gateway();
    replied(await send(g, chat('nothing-like-it')));
    g.ex.finish('responded');
    await settle();
    expect(g.ex.ctx).toMatchObject({ finalStatus: 404, outcome: 'responded', target: undefined });
    expect((await g.h.usageRecords())[0]).toMatchObject({ status: 404, outcome: 'responded', provider: null });
    expect(await metricValue(g.h.metrics, 'gateway_requests_total', { provider: 'none', model: 'none', endpoint: 'chat.completions', status: '404' })).toBe(1);
  });

  test('a stream the client left mid-way keeps the status it got and the usage read so far', async () => {
    const g = await gateway();
    continued(await send(g, chat('gpt-4o', { stream: true })));
    await g.ex.responseHeaders(responseHeaders(200, 'text/event-stream'), false);
    await g.ex.responseBody(Buffer.from(`data: ${JSON.stringify({ model: 'gpt-4o', choices: [], usage: { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 } })}\n\n`), false);
    g.ex.finish('cancelled');
    await settle();
    expect((await g.h.usageRecords())[0]).toMatchObject({ status: 200, outcome: 'cancelled', streamed: true, totalTokens: 2 });
  });

  test('an exchange that never started finishes as nothing', async () => {
    const g = await gateway();
    g.ex.finish('cancelled');
    await settle();
    expect(g.completed).toEqual([]);
    expect(await g.h.usageRecords()).toEqual([]);
  });
});
