import plugin from '../../../plugins/model-router';
import type { PluginHooks, ShortCircuit } from '../../../src/plugins/api';
import type { JsonObject, Principal } from '../../../src/domain';
import { configure, gatewayError, harness, optionProblems, requestContext, type TestHost, type TestHostOptions } from './helpers';

/** model-router over a real ProviderRegistry (patterns, `provider/model`, weighted mappings). */

const HOST: TestHostOptions = {
  providers: [
    { name: 'openai', type: 'openai-compatible', models: ['gpt-*'] },
    // No models listed: the anthropic type's default patterns (claude-*).
    { name: 'anthropic', type: 'anthropic' },
    { name: 'local', type: 'openai-compatible', models: ['llama3', 'org/model-v1', 'модель', 'local-*'] },
  ],
  models: [
    {
      id: 'smart',
      deployments: [
        { provider: 'anthropic', model: 'claude-sonnet-4', weight: 1 },
        { provider: 'openai', model: 'gpt-4o', weight: 1 },
      ],
      display_name: 'Smart',
      context_window: 200000,
    },
  ],
};

let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin, HOST)));
afterEach(() => h.close());

const chat = (model: string): JsonObject => ({ model, messages: [{ role: 'user', content: 'hi' }] });

function route(model: string, principal?: Principal, path = '/v1/chat/completions') {
  const ctx = requestContext({ path, body: chat(model), principal });
  expect(hooks.onRequest!(ctx)).toBeUndefined();
  return ctx;
}

function get(path: string, principal?: Principal): ShortCircuit {
  const out = hooks.onRequest!(requestContext({ method: 'GET', path, principal })) as ShortCircuit;
  expect(out?.kind).toBe('respond');
  return out;
}
const ids = (r: ShortCircuit) => (r.body as { data: { id: string }[] }).data.map((m) => m.id);

describe('options', () => {
  test('none, and nothing else is accepted', () => {
    expect(configure(plugin)).toEqual({});
    expect(optionProblems(plugin, { default_model: 'gpt-4o' })).toEqual(['plugins[0].options.default_model: unknown key']);
  });
});

describe('routing', () => {
  test.each([
    ['a provider model pattern', 'gpt-4o-mini', { provider: 'openai', type: 'openai-compatible', model: 'gpt-4o-mini' }],
    ["the provider type's default patterns", 'claude-3-5-haiku', { provider: 'anthropic', type: 'anthropic', model: 'claude-3-5-haiku' }],
    ['an exact model name', 'llama3', { provider: 'local', type: 'openai-compatible', model: 'llama3' }],
    ['provider/model', 'local/any-model', { provider: 'local', type: 'openai-compatible', model: 'any-model' }],
    ['provider.model', 'openai.o3-mini', { provider: 'openai', type: 'openai-compatible', model: 'o3-mini' }],
    ['provider/model with a slash in the model', 'local/org/model-v1', { provider: 'local', type: 'openai-compatible', model: 'org/model-v1' }],
    ['a mapping (its first deployment with this random source)', 'smart', { provider: 'anthropic', type: 'anthropic', model: 'claude-sonnet-4' }],
    ['a unicode model name', 'модель', { provider: 'local', type: 'openai-compatible', model: 'модель' }],
  ])('%s: %s', (_name, model, target) => {
    expect(route(model).target).toEqual(target);
  });

  test('embeddings and responses are routed the same way', () => {
    expect(route('gpt-4o', undefined, '/v1/embeddings').target?.provider).toBe('openai');
    expect(route('claude-x', undefined, '/responses').target?.provider).toBe('anthropic');
  });

  test.each(['no-such-model', '__proto__', 'constructor', 'local/', 'nobody/gpt-x', 'ünknöwn-模型'])('an unknown model %j: 404 model_not_found naming it', async (model) => {
    const ctx = requestContext({ body: chat(model) });
    const err = await gatewayError(() => hooks.onRequest!(ctx));
    expect(err.status).toBe(404);
    expect(err.toBody().error).toEqual({
      code: 'model_not_found',
      type: 'not_found_error',
      param: 'model',
      message: `The model \`${model}\` does not exist or you do not have access to it.`,
    });
    expect(ctx.target).toBeUndefined();
  });

  test('a target an earlier plugin chose is kept', () => {
    const ctx = requestContext({ body: chat('gpt-4o') });
    ctx.target = { provider: 'local', type: 'openai-compatible', model: 'llama3' };
    hooks.onRequest!(ctx);
    expect(ctx.target).toEqual({ provider: 'local', type: 'openai-compatible', model: 'llama3' });
  });

  test.each<[string, JsonObject | undefined]>([
    ['no body', undefined],
    ['no model', { messages: [] }],
  ])('%s: nothing to route (the core answers)', (_name, body) => {
    const ctx = requestContext({ body });
    expect(hooks.onRequest!(ctx)).toBeUndefined();
    expect(ctx.target).toBeUndefined();
  });
});

describe('allowed_models', () => {
  const limited = (allowedModels: string[]): Principal => ({ id: 'key_1', kind: 'api_key', allowedModels });

  test.each([
    ['an exact entry', ['gpt-4o'], 'gpt-4o'],
    ['a prefix entry', ['gpt-4o*'], 'gpt-4o-mini'],
    ['a mapping id', ['smart'], 'smart'],
    ['a catch-all', ['*'], 'claude-x'],
    ['an empty list (no restriction)', [], 'llama3'],
    ['a unicode entry', ['модель'], 'модель'],
  ])('allowed by %s', (_name, allowed, model) => {
    expect(route(model, limited(allowed)).target).toBeDefined();
  });

  test.each([
    ['a model outside the list', ['gpt-4o*'], 'claude-x'],
    ['a prefix without its star', ['gpt-4o'], 'gpt-4o-mini'],
    ['another spelling of an allowed model', ['gpt-4o'], 'openai/gpt-4o'],
    ['a mapping not in the list', ['gpt-*'], 'smart'],
  ])('refused: %s → 403 model_not_allowed', async (_name, allowed, model) => {
    const ctx = requestContext({ body: chat(model), principal: limited(allowed) });
    const err = await gatewayError(() => hooks.onRequest!(ctx));
    expect(err.status).toBe(403);
    expect(err.toBody().error).toEqual({
      code: 'model_not_allowed',
      type: 'permission_error',
      param: 'model',
      message: `This key is not allowed to use the model \`${model}\`.`,
    });
    expect(ctx.target).toBeUndefined();
  });

  test.each([
    ['allowed but unknown', ['mystery-*'], 'mystery-1'],
    ['unknown and outside the list', ['gpt-*'], '__proto__'],
  ])('a model %s is a 404, as for anyone', async (_name, allowed, model) => {
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ body: chat(model), principal: limited(allowed) })));
    expect([err.status, err.code]).toEqual([404, 'model_not_found']);
  });
});

describe('GET /v1/models', () => {
  test('lists mappings and exact model names (not patterns), sorted, in OpenAI shape', () => {
    const r = get('/v1/models');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      object: 'list',
      data: [
        { id: 'llama3', object: 'model', created: 0, owned_by: 'local', provider: 'local' },
        { id: 'org/model-v1', object: 'model', created: 0, owned_by: 'local', provider: 'local' },
        { id: 'smart', object: 'model', created: 0, owned_by: 'anthropic', provider: 'anthropic', display_name: 'Smart', context_window: 200000 },
        { id: 'модель', object: 'model', created: 0, owned_by: 'local', provider: 'local' },
      ],
    });
  });

  test.each(['/models', '/v1/models/', '/v1/langchain/models'])('the same list at %s', (path) => {
    expect(ids(get(path))).toEqual(['llama3', 'org/model-v1', 'smart', 'модель']);
  });

  test.each([
    ['?provider=local', '/v1/models?provider=local', undefined, ['llama3', 'org/model-v1', 'модель']],
    ['?provider=unknown', '/v1/models?provider=unknown', undefined, []],
    ['allowed models', '/v1/models', { id: 'k', kind: 'api_key', allowedModels: ['llama*', 'smart'] }, ['llama3', 'smart']],
    ['allowed providers', '/v1/models', { id: 'k', kind: 'api_key', allowedProviders: ['anthropic'] }, ['smart']],
    ['both', '/v1/models', { id: 'k', kind: 'mtls', allowedModels: ['smart', 'llama3'], allowedProviders: ['local'] }, ['llama3']],
  ] as [string, string, Principal | undefined, string[]][])('filtered by %s', (_name, path, principal, expected) => {
    expect(ids(get(path, principal))).toEqual(expected);
  });

  test.each([
    ['/v1/models/smart', 'smart'],
    ['/v1/models/smart/', 'smart'],
    ['/v1/models/org/model-v1', 'org/model-v1'],
    ['/v1/models/org%2Fmodel-v1', 'org/model-v1'],
    [`/v1/models/${encodeURIComponent('модель')}`, 'модель'],
  ])('GET %s describes one model', (path, id) => {
    const r = get(path);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, object: 'model' });
  });

  test.each([
    ['/v1/models/__proto__', '__proto__'],
    ['/v1/models/%E0%A4%A', '%E0%A4%A'],
  ])('GET %s: 404 model_not_found (patterns name no model; bad escapes are unknown models)', async (path, named) => {
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ method: 'GET', path })));
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain(`\`${named}\``);
  });

  test('a model the caller may not use is not found, not forbidden', async () => {
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ method: 'GET', path: '/v1/models/smart', principal: { id: 'k', kind: 'api_key', allowedModels: ['llama3'] } })));
    expect(err.status).toBe(404);
  });

  test.each(['POST', 'DELETE'])('%s /v1/models: 405', async (method) => {
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ method, path: '/v1/models' })));
    expect(err.status).toBe(405);
    expect(err.toBody().error).toMatchObject({ code: 'method_not_allowed', message: `${method} is not allowed on /v1/models.` });
  });

  test('providers added at run time are listed at once', () => {
    h.registry.upsert({ ...h.registry.get('local')!, name: 'extra', cluster: 'provider_extra', models: ['phi-4'] });
    expect(ids(get('/v1/models?provider=extra'))).toEqual(['phi-4']);
  });
});

describe('GET /v1/models/{id} knows every id chat routes, by the same resolution', () => {
  const path = (id: string) => `/v1/models/${id.split('/').map(encodeURIComponent).join('/')}`;

  test.each([
    ['a provider model pattern', 'gpt-4o', 'openai'],
    ["the provider type's default patterns", 'claude-3-5-haiku', 'anthropic'],
    ['an exact model name', 'llama3', 'local'],
    ['another provider pattern', 'local-phi', 'local'],
    ['provider/model', 'local/any-model', 'local'],
    ['provider.model', 'openai.gpt-4o-mini', 'openai'],
    ['provider/model with a slash in the model', 'local/org/model-v1', 'local'],
    ['a mapping', 'smart', 'anthropic'],
    ['a unicode model name', 'модель', 'local'],
  ])('%s: %s is described with the provider chat sends it to', (_name, id, provider) => {
    const r = get(path(id));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, object: 'model', owned_by: provider, provider });
    expect(route(id).target?.provider).toBe(provider);
  });

  test('a mapping keeps its display name and context window', () => {
    expect(get('/v1/models/smart').body).toEqual({
      id: 'smart', object: 'model', created: 0, owned_by: 'anthropic', provider: 'anthropic', display_name: 'Smart', context_window: 200000,
    });
  });

  test.each(['no-such-model', 'local/', 'openai.', 'nobody/gpt-x', 'nobody.gpt-x', '__proto__'])('%j: 404 model_not_found, as chat', async (id) => {
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ method: 'GET', path: path(id) })));
    expect([err.status, err.code]).toEqual([404, 'model_not_found']);
    const chatErr = await gatewayError(() => hooks.onRequest!(requestContext({ body: chat(id) })));
    expect([chatErr.status, chatErr.code]).toEqual([404, 'model_not_found']);
  });

  test.each([
    ['allowed providers', { allowedProviders: ['local'] }, 'openai.gpt-4o-mini'],
    ['allowed providers (a pattern)', { allowedProviders: ['anthropic'] }, 'gpt-4o'],
    ['allowed models (another spelling of an allowed one)', { allowedModels: ['gpt-4o'] }, 'openai/gpt-4o'],
    ['allowed models', { allowedModels: ['llama3'] }, 'claude-x'],
  ] as [string, Partial<Principal>, string][])('not allowed by its %s: 404, not 403', async (_name, limits, id) => {
    const principal: Principal = { id: 'k', kind: 'api_key', ...limits };
    const err = await gatewayError(() => hooks.onRequest!(requestContext({ method: 'GET', path: path(id), principal })));
    expect([err.status, err.code]).toEqual([404, 'model_not_found']);
  });

  test('allowed by both lists: described', () => {
    const principal: Principal = { id: 'k', kind: 'api_key', allowedModels: ['openai.*'], allowedProviders: ['openai'] };
    expect(get('/v1/models/openai.gpt-4o-mini', principal).body).toMatchObject({ id: 'openai.gpt-4o-mini', provider: 'openai' });
  });

  test('an exact name an earlier provider pattern takes is listed and described with that provider', () => {
    h.registry.upsert({ ...h.registry.get('local')!, name: 'shadow', cluster: 'provider_shadow', models: ['gpt-4o-mini', 'shadow-only'] });
    expect(route('gpt-4o-mini').target?.provider).toBe('openai');
    expect(get('/v1/models/gpt-4o-mini').body).toMatchObject({ provider: 'openai' });
    const listed = (get('/v1/models').body as { data: { id: string; provider: string }[] }).data;
    expect(listed.filter((m) => m.id === 'gpt-4o-mini' || m.id === 'shadow-only').map((m) => [m.id, m.provider])).toEqual([
      ['gpt-4o-mini', 'openai'],
      ['shadow-only', 'shadow'],
    ]);
  });

  test('providers added or removed at run time are resolved at once', async () => {
    const lookup = () => hooks.onRequest!(requestContext({ method: 'GET', path: '/v1/models/extra.anything' }));
    expect((await gatewayError(lookup)).status).toBe(404);
    h.registry.upsert({ ...h.registry.get('local')!, name: 'extra', cluster: 'provider_extra', models: [] });
    expect(get('/v1/models/extra.anything').body).toMatchObject({ id: 'extra.anything', provider: 'extra' });
    h.registry.remove('extra');
    expect((await gatewayError(lookup)).status).toBe(404);
  });
});
