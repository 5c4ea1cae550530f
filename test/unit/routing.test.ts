import { mappingsFrom, ProviderRegistry, toRuntime } from '../../src/control/provider-registry';

/** Model routing: mappings, provider/model and provider.model ids, and model patterns. */

const provider = (name: string, type: string, models: string[] = []) =>
  toRuntime({ name, type, base_url: `https://${name}.example/v1`, models, headers: {}, timeout_seconds: 0 });

const registry = () =>
  new ProviderRegistry(
    [
      provider('openai', 'openai'),
      provider('anthropic', 'anthropic'),
      provider('google', 'google'),
      provider('meta', 'meta'),
      provider('cohere', 'cohere'),
      provider('huggingface', 'huggingface'),
      provider('local', 'openai-compatible', ['qwen*', 'mistral-7b']),
    ],
    mappingsFrom([
      { id: 'fast', provider: 'openai', model: 'gpt-4o-mini', display_name: 'Fast', context_window: 128000 },
      { id: 'balanced', deployments: [{ provider: 'openai', model: 'gpt-4o', weight: 3 }, { provider: 'anthropic', model: 'claude-sonnet-4-5', weight: 1 }] },
    ]),
  );

test.each([
  ['gpt-4o', 'openai', 'gpt-4o'],
  ['o1-mini', 'openai', 'o1-mini'],
  ['o3', 'openai', 'o3'],
  ['o4-mini', 'openai', 'o4-mini'],
  ['text-embedding-3-small', 'openai', 'text-embedding-3-small'],
  ['claude-sonnet-4-5', 'anthropic', 'claude-sonnet-4-5'],
  ['gemini-2.5-flash', 'google', 'gemini-2.5-flash'],
  ['llama-3.3-70b', 'meta', 'llama-3.3-70b'],
  ['Llama-4-Maverick-17B', 'meta', 'Llama-4-Maverick-17B'],
  ['command-r-plus', 'cohere', 'command-r-plus'],
  ['embed-english-v3.0', 'cohere', 'embed-english-v3.0'],
  ['qwen2.5-coder', 'local', 'qwen2.5-coder'],
  ['mistral-7b', 'local', 'mistral-7b'],
  ['anthropic/claude-haiku', 'anthropic', 'claude-haiku'],
  ['huggingface/meta-llama/Llama-3.1-8B-Instruct', 'huggingface', 'meta-llama/Llama-3.1-8B-Instruct'],
  ['openai.gpt-4.1', 'openai', 'gpt-4.1'],
  ['gpt-4.1', 'openai', 'gpt-4.1'],
  ['fast', 'openai', 'gpt-4o-mini'],
])('%s → %s / %s', (model, providerName, upstream) => {
  expect(registry().resolve(model)).toMatchObject({ provider: providerName, model: upstream });
});

test.each(['mistral-large', 'unknown/x', 'openai/', 'nothing'])('%s is not routable', (model) => {
  expect(registry().resolve(model)).toBeUndefined();
});

test('weighted deployments spread load by weight', () => {
  let i = 0;
  const draws = [0.1, 0.5, 0.74, 0.76, 0.99];
  const r = new ProviderRegistry(registry().all(), mappingsFrom([{ id: 'balanced', deployments: [{ provider: 'openai', model: 'gpt-4o', weight: 3 }, { provider: 'anthropic', model: 'claude-sonnet-4-5', weight: 1 }] }]), () => draws[i++]);
  expect(draws.map(() => r.resolve('balanced')!.provider)).toEqual(['openai', 'openai', 'openai', 'anthropic', 'anthropic']);
});

test('providers added and removed at run time change routing at once', () => {
  const r = registry();
  expect(r.resolve('phi-4')).toBeUndefined();
  r.upsert(provider('azure', 'openai-compatible', ['phi-*']));
  expect(r.resolve('phi-4')).toMatchObject({ provider: 'azure' });
  r.remove('azure');
  expect(r.resolve('phi-4')).toBeUndefined();
});

test('the catalogue lists mappings and exact model names, not patterns', () => {
  const ids = registry().catalog().map((m) => m.id);
  expect(ids).toEqual(['balanced', 'fast', 'mistral-7b']);
  expect(registry().catalog().find((m) => m.id === 'fast')).toEqual({ id: 'fast', provider: 'openai', displayName: 'Fast', contextWindow: 128000 });
});
