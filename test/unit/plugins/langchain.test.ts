import plugin, { isLangchain } from '../../../plugins/langchain';
import virtualKeys from '../../../plugins/virtual-keys';
import type { ExchangeContext } from '../../../src/core/context';
import type { PluginHooks } from '../../../src/plugins/api';
import type { Principal } from '../../../src/domain';
import { configure, createKey, createPlugin, gatewayError, harness, metricValue, optionProblems, requestContext, type TestHost } from './helpers';

let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin)));
afterEach(() => h.close());

const LC = '/v1/langchain/chat/completions';
const langchainKey: Principal = { id: 'lc_1', kind: 'api_key', tier: 'langchain' };
const standardKey: Principal = { id: 'std_1', kind: 'api_key', tier: 'standard' };

const requests = (model: string, status: string) => metricValue(h.metrics, 'langchain_requests_total', { model, status });
const durations = (model: string, series: '_count' | '_sum') => metricValue(h.metrics, 'langchain_request_duration_seconds', { model }, `langchain_request_duration_seconds${series}`);

describe('options', () => {
  test('at most 200 model labels by default', () => {
    expect(configure(plugin)).toEqual({ max_model_labels: 200 });
    expect(configure(plugin, { max_model_labels: 1 })).toEqual({ max_model_labels: 1 });
  });

  test.each([
    ['zero labels', { max_model_labels: 0 }, 'plugins[0].options.max_model_labels: must be >= 1'],
    ['a string', { max_model_labels: '10' }, 'plugins[0].options.max_model_labels: must be integer'],
    ['an unknown option', { prefix: '/lc' }, 'plugins[0].options.prefix: unknown key'],
  ])('refused: %s', (_name, options, problem) => {
    expect(optionProblems(plugin, options)).toEqual([problem]);
  });
});

describe('the LangChain endpoint accepts only LangChain keys', () => {
  test.each<[string, string, Principal | undefined]>([
    ['a langchain key on the langchain path', LC, langchainKey],
    ['an mTLS identity of the langchain tier', LC, { id: 'spiffe://x/a', kind: 'mtls', tier: 'langchain' }],
    ['a langchain key on the standard path', '/v1/chat/completions', langchainKey],
    ['a standard key on the standard path', '/v1/chat/completions', standardKey],
    ['a standard key on a path that only looks like it', '/v1/langchainx/chat/completions', standardKey],
    ['no principal (authentication is not this plugin’s job)', LC, undefined],
  ])('allowed: %s', (_name, path, principal) => {
    const ctx = requestContext({ path, principal });
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toBe(principal);
  });

  test.each<[string, string, Principal]>([
    ['a standard key', LC, standardKey],
    ['a key without a tier', '/v1/langchain/embeddings', { id: 'k', kind: 'api_key' }],
    ['a standard mTLS identity', '/v1/langchain/models', { id: 'spiffe://x/b', kind: 'mtls', tier: 'standard' }],
  ])('refused: %s → 403 invalid_key_tier', async (_name, path, principal) => {
    const err = await gatewayError(() => hooks.onRequestHeaders!(requestContext({ path, principal })));
    expect(err.status).toBe(403);
    expect(err.toBody().error).toEqual({
      code: 'invalid_key_tier',
      type: 'permission_error',
      param: null,
      message: 'The LangChain endpoint accepts only LangChain keys (they start with "langchain-").',
    });
  });

  test('after virtual-keys, with real keys of both tiers', async () => {
    const auth = await createPlugin(virtualKeys, h);
    const lc = await createKey(h, { tier: 'langchain' });
    const std = await createKey(h);
    const through = async (secret: string) => {
      const ctx = requestContext({ path: LC, headers: { authorization: `Bearer ${secret}` } });
      await auth.onRequestHeaders!(ctx);
      return hooks.onRequestHeaders!(ctx);
    };
    await expect(through(lc.secret)).resolves.toBeUndefined();
    expect((await gatewayError(() => through(std.secret))).code).toBe('invalid_key_tier');
  });
});

describe('isLangchain', () => {
  test.each<[string, string, Principal | undefined, boolean]>([
    ['the langchain path', LC, undefined, true],
    ['the langchain models path', '/v1/langchain/models', standardKey, true],
    ['a langchain-tier key anywhere', '/chat/completions', langchainKey, true],
    ['a standard key on the standard path', '/v1/chat/completions', standardKey, false],
    ['nobody on the standard path', '/v1/embeddings', undefined, false],
  ])('%s → %s', (_name, path, principal, expected) => {
    expect(isLangchain(requestContext({ path, principal }))).toBe(expected);
  });
});

describe('LangChain metrics', () => {
  function complete(path: string, principal: Principal | undefined, set: (ctx: ExchangeContext) => void = () => {}): void {
    const ctx = requestContext({ path, principal });
    set(ctx);
    hooks.onComplete!(ctx);
  }
  const served = (model: string | undefined, status: number | undefined, durationMs: number | undefined) => (ctx: ExchangeContext) => {
    ctx.target = model === undefined ? undefined : { provider: 'p', type: 'openai-compatible', model };
    ctx.finalStatus = status;
    ctx.durationMs = durationMs;
  };

  test('a LangChain request is counted by model and status, and its duration observed in seconds', async () => {
    complete(LC, langchainKey, served('gpt-4o', 200, 1500));
    complete(LC, langchainKey, served('gpt-4o', 200, 500));
    complete(LC, langchainKey, served('gpt-4o', 429, 3));
    expect(await requests('gpt-4o', '200')).toBe(2);
    expect(await requests('gpt-4o', '429')).toBe(1);
    expect(await durations('gpt-4o', '_count')).toBe(3);
    expect(await durations('gpt-4o', '_sum')).toBeCloseTo(2.003);
  });

  test('a langchain-tier key on the standard path counts; standard traffic does not', async () => {
    complete('/v1/chat/completions', langchainKey, served('m1', 200, 10));
    complete('/v1/chat/completions', standardKey, served('m2', 200, 10));
    expect(await requests('m1', '200')).toBe(1);
    expect(await requests('m2', '200')).toBe(0);
  });

  test('a request that ended before routing: model "none", status 0, no duration', async () => {
    complete(LC, undefined, served(undefined, undefined, undefined));
    expect(await requests('none', '0')).toBe(1);
    expect(await durations('none', '_count')).toBe(0);
  });

  test('model labels are capped: past max_model_labels new models count as "other"', async () => {
    hooks = await createPlugin(plugin, h, { max_model_labels: 2 });
    for (const model of ['a', '__proto__', 'модель', 'a', 'b']) complete(LC, langchainKey, served(model, 200, 1));
    expect(await requests('a', '200')).toBe(2);
    expect(await requests('__proto__', '200')).toBe(1);
    expect(await requests('other', '200')).toBe(2);
    expect(await requests('модель', '200')).toBe(0);
  });
});
