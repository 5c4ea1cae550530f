import { globMatches } from '../../src/domain/glob';
import { ProviderRegistry, toRuntime } from '../../src/control/provider-registry';

/** The one glob of the gateway: provider model patterns and MCP access rules. */
describe('globMatches', () => {
  test.each([
    ['gpt-*', 'gpt-4o', true],
    ['gpt-*', 'gpt-', true],
    ['gpt-*', 'xgpt-4o', false],
    ['*-mini', 'gpt-4o-mini', true],
    ['*-mini', 'gpt-4o-mini-x', false],
    ['qwen2.5-*', 'qwen2.5-72b', true],
    ['qwen2.5-*', 'qwen2x5-72b', false],
    ['a+b', 'aab', false],
    ['(x)|y', '(x)|y', true],
    ['*a*a*b', 'xaxaxb', true],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
  ])('%s ~ %s: %s', (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });

  test('a pattern built to make a backtracking regex explode answers on a long value', () => {
    expect(globMatches('*a*a*a*a*a*a*a*b', 'a'.repeat(256))).toBe(false);
  });
});

test('provider model patterns match as globs: regex characters are literal, the match anchored', () => {
  const registry = new ProviderRegistry([
    toRuntime({ name: 'vllm', type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', models: ['qwen2.5-*', '*a*a*a*a*a*a*b'], headers: {}, timeout_seconds: 0 }),
  ]);
  expect(registry.resolve('qwen2.5-72b')?.provider).toBe('vllm');
  expect(registry.resolve('qwen2x5-72b')).toBeUndefined();
  expect(registry.resolve('a'.repeat(200))).toBeUndefined();
});
