import plugin from '../../../plugins/rate-limit-descriptors';
import { compileRules } from '../../../src/ratelimit/config';
import { applicableKinds, descriptorEntriesFrom, matchLimits, parseDescriptor } from '../../../src/ratelimit/descriptors';
import type { PluginHooks } from '../../../src/plugins/api';
import type { JsonObject, Principal, RateLimitDimension } from '../../../src/domain';
import { configure, harness, optionProblems, requestContext, type TestHost } from './helpers';

let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin)));
afterEach(() => h.close());

const chat = (model: string): JsonObject => ({ model, messages: [{ role: 'user', content: 'hi' }] });

function publish(principal: Principal | undefined, ...body: [JsonObject | undefined] | []) {
  const ctx = requestContext({ principal, body: body.length ? body[0] : chat('gpt-4o') });
  expect(hooks.onRequest!(ctx)).toBeUndefined();
  return ctx;
}

describe('options', () => {
  test('none, and nothing else is accepted', () => {
    expect(configure(plugin)).toEqual({});
    expect(optionProblems(plugin, { per_key: true })).toEqual(['plugins[0].options.per_key: unknown key']);
    expect(optionProblems(plugin, JSON.parse('{"__proto__":{}}'))).toEqual([expect.stringContaining('options.__proto__: not allowed as a key')]);
  });
});

describe('dimensions published to the rate limiter', () => {
  const dimensionsOf = (ctx: ReturnType<typeof requestContext>) => ctx.rateLimits.publication.dimensions;

  test.each<[string, Principal | undefined, Partial<Record<RateLimitDimension, string>>]>([
    ['a virtual key', { id: 'key_1', kind: 'api_key', user: 'ann', team: 'blue' }, { key: 'key_1', user: 'ann', team: 'blue', model: 'gpt-4o' }],
    [
      'an mTLS identity (its certificate identity, not a key)',
      { id: 'agent-a', kind: 'mtls', team: 'bots', identity: 'spiffe://example.org/agent/a' },
      { team: 'bots', identity: 'spiffe://example.org/agent/a', model: 'gpt-4o' },
    ],
    ['an mTLS principal without an identity: its id', { id: 'spiffe://x/b', kind: 'mtls' }, { identity: 'spiffe://x/b', model: 'gpt-4o' }],
    ['a key presented with a client certificate: both', { id: 'key_3', kind: 'api_key', identity: 'spiffe://x/c' }, { key: 'key_3', identity: 'spiffe://x/c', model: 'gpt-4o' }],
    ['a JWT principal: user and team only', { id: 'sub-1', kind: 'jwt', user: 'bob', team: 'ops' }, { user: 'bob', team: 'ops', model: 'gpt-4o' }],
    ['empty values are left out (Envoy drops them)', { id: 'key_2', kind: 'api_key', user: '', team: '' }, { key: 'key_2', model: 'gpt-4o' }],
    ['no principal: the model only', undefined, { model: 'gpt-4o' }],
  ])('%s', (_name, principal, expected) => {
    const ctx = publish(principal);
    expect(dimensionsOf(ctx)).toEqual(expected);
    expect(ctx.rateLimits.publication.quota).toBeUndefined();
    // Nothing of it goes to the provider, nor into free-form metadata.
    expect(ctx.requestHeaderEdits.size).toBe(0);
    expect(ctx.dynamicMetadata.size).toBe(0);
  });

  test.each([
    ['unicode', 'модель-🚀'],
    ['__proto__', '__proto__'],
    ['provider/model', 'openai/gpt-4o-mini'],
  ])('a model name with %s is published as sent', (_name, model) => {
    expect(dimensionsOf(publish({ id: 'k', kind: 'api_key' }, chat(model))).model).toBe(model);
  });

  test.each<[string, JsonObject | undefined]>([
    ['no body', undefined],
    ['an empty body', {}],
    ['a model that is not a string', { model: 7 }],
  ])('%s: no model dimension', (_name, body) => {
    const ctx = publish({ id: 'k', kind: 'api_key' }, body);
    expect(dimensionsOf(ctx)).toEqual({ key: 'k' });
  });

  test('the published dimensions are what the rate limit service matches rules on', () => {
    const limits = compileRules([
      { name: 'per-team', match: { team: 'blue' }, requests_per_minute: 10 },
      { name: 'per-key-model', match: { key: '*', model: 'gpt-4o' }, tokens_per_minute: 1000 },
      { name: 'agents', match: { identity: 'spiffe://example.org/agent/a' }, requests_per_minute: 5 },
    ]);
    const ctx = publish({ id: 'key_1', kind: 'api_key', team: 'blue' });
    const requests = parseDescriptor(descriptorEntriesFrom('requests', ctx.rateLimits.publication));
    expect(matchLimits(limits, requests).map((m) => m.counter)).toEqual(['per-team:requests:60000:team=blue']);
    const tokens = parseDescriptor(descriptorEntriesFrom('tokens', ctx.rateLimits.publication));
    expect(matchLimits(limits, tokens).map((m) => m.counter)).toEqual(['per-key-model:tokens:60000:key=key_1&model=gpt-4o']);
    // Another team's key, another model: no rule applies, so Envoy need not ask the service.
    expect(applicableKinds(limits, publish({ id: 'key_2', kind: 'api_key', team: 'red' }, chat('gpt-4o-mini')).rateLimits.publication)).toEqual([]);
    expect(applicableKinds(limits, publish({ id: 'a', kind: 'mtls', identity: 'spiffe://example.org/agent/a' }).rateLimits.publication)).toEqual(['requests']);
  });

  test('a quota set by another plugin is kept beside the dimensions', () => {
    const ctx = requestContext({ principal: { id: 'key_1', kind: 'api_key' }, body: chat('gpt-4o') });
    ctx.rateLimits.setQuota({ principal: 'key_1', limit: 5, windowSeconds: 60 });
    hooks.onRequest!(ctx);
    expect(ctx.rateLimits.publication).toEqual({ dimensions: { key: 'key_1', model: 'gpt-4o' }, quota: { principal: 'key_1', limit: 5, windowSeconds: 60 } });
    expect(descriptorEntriesFrom('requests', ctx.rateLimits.publication)).toEqual([
      { key: 'kind', value: 'requests' },
      { key: 'key', value: 'key_1' },
      { key: 'model', value: 'gpt-4o' },
      { key: 'quota', value: '5/60' },
      { key: 'principal', value: 'key_1' },
    ]);
  });
});
