import plugin from '../../../plugins/usage-recorder';
import type { ExchangeContext } from '../../../src/core/context';
import { SseEvent } from '../../../src/domain/sse';
import type { PluginHooks } from '../../../src/plugins/api';
import type { ExchangeOutcome, JsonObject, JsonValue } from '../../../src/domain';
import { configure, harness, optionProblems, requestContext, withResponse, type RequestSpec, type TestHost } from './helpers';

/** usage-recorder writing through the real batched writer into an in-memory SQLite store. */

let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin)));
afterEach(() => h.close());

const messages = [{ role: 'user', content: 'hi' }];

function onRequest(body: JsonObject | undefined, path = '/v1/chat/completions'): ExchangeContext {
  const ctx = requestContext({ path, body });
  expect(hooks.onRequest!(ctx)).toBeUndefined();
  return ctx;
}

describe('options', () => {
  test('none, and nothing else is accepted', () => {
    expect(configure(plugin)).toEqual({});
    expect(optionProblems(plugin, { sample_rate: 1 })).toEqual(['plugins[0].options.sample_rate: unknown key']);
  });
});

describe('exact token counts for streams', () => {
  test.each<[string, JsonValue | undefined, JsonObject]>([
    ['no stream_options', undefined, { include_usage: true }],
    ['other stream options, kept', { chunk_size: 3 }, { chunk_size: 3, include_usage: true }],
    ['include_usage false', { include_usage: false }, { include_usage: true }],
    ['stream_options as an array', ['x'], { include_usage: true }],
    ['stream_options null', null, { include_usage: true }],
  ])('a chat stream with %s asks the provider for usage', (_name, so, expected) => {
    const body: JsonObject = { model: 'gpt-4o', messages, stream: true, ...(so === undefined ? {} : { stream_options: so }) };
    const before = structuredClone(body);
    const ctx = onRequest(body);
    expect(ctx.request.bodyChanged).toBe(true);
    expect(ctx.request.body).toEqual({ ...before, stream_options: expected });
    // The client's parsed body object is not mutated in place.
    expect(body).toEqual(before);
  });

  test('legacy completions streams too', () => {
    expect(onRequest({ model: 'm', prompt: 'x', stream: true }, '/v1/completions').request.body?.stream_options).toEqual({ include_usage: true });
  });

  test.each<[string, JsonObject | undefined, string]>([
    ['a client that already asked for usage', { model: 'm', messages, stream: true, stream_options: { include_usage: true } }, '/v1/chat/completions'],
    ['a buffered request', { model: 'm', messages }, '/v1/chat/completions'],
    ['stream as the string "true"', { model: 'm', messages, stream: 'true' }, '/v1/chat/completions'],
    ['an embeddings request', { model: 'm', input: 'x', stream: true }, '/v1/embeddings'],
    ['a responses stream (usage comes with it anyway)', { model: 'm', input: 'x', stream: true }, '/v1/responses'],
    ['no body', undefined, '/v1/chat/completions'],
  ])('%s: the body is left alone', (_name, body, path) => {
    const before = structuredClone(body);
    const ctx = onRequest(body, path);
    expect(ctx.request.bodyChanged).toBe(false);
    expect(ctx.request.body).toEqual(before);
  });

  const usageChunk = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
  const contentChunk = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hé 👋' } }], usage: null });
  const lastWithUsage = JSON.stringify({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { total_tokens: 5 } });

  /** What the client receives of these events after the hook. */
  function delivered(ctx: ExchangeContext, payloads: string[]): string[] {
    return payloads.flatMap((p) => {
      const ev = new SseEvent(undefined, p, undefined, `data: ${p}\n\n`);
      hooks.onResponseChunk!(ctx, ev);
      return ev.dropped ? [] : [ev.serialize()];
    });
  }

  test('the usage chunk the gateway asked for is hidden from the client; the rest passes verbatim', () => {
    const ctx = onRequest({ model: 'm', messages, stream: true });
    withResponse(ctx, 200, { 'content-type': 'text/event-stream' }, true);
    expect(delivered(ctx, [contentChunk, lastWithUsage, usageChunk, '[DONE]'])).toEqual([contentChunk, lastWithUsage, '[DONE]'].map((p) => `data: ${p}\n\n`));
  });

  test('the usage chunk the client asked for itself is delivered', () => {
    const ctx = onRequest({ model: 'm', messages, stream: true, stream_options: { include_usage: true } });
    expect(delivered(ctx, [contentChunk, usageChunk, '[DONE]'])).toHaveLength(3);
  });

  test('other requests’ streams are not touched', () => {
    onRequest({ model: 'm', messages, stream: true });
    expect(delivered(requestContext(), [usageChunk])).toEqual([`data: ${usageChunk}\n\n`]);
  });

  test('a usage-looking chunk that is not JSON is kept', () => {
    const ctx = onRequest({ model: 'm', messages, stream: true });
    expect(delivered(ctx, ['{"usage": broken'])).toHaveLength(1);
  });
});

describe('usage records', () => {
  interface Done {
    spec?: RequestSpec;
    outcome?: ExchangeOutcome;
    set?: (ctx: ExchangeContext) => void;
  }

  function complete({ spec, outcome, set }: Done = {}): ExchangeContext {
    const ctx = requestContext({ id: `ex-${Math.random()}`, body: { model: 'gpt-4o', messages }, ...spec });
    ctx.outcome = outcome;
    set?.(ctx);
    hooks.onComplete!(ctx);
    return ctx;
  }

  test('one record per request with who, what, tokens, cost and timing', async () => {
    const ctx = complete({
      spec: { principal: { id: 'key_1', kind: 'api_key', user: 'ann', team: 'blue', tier: 'standard' } },
      outcome: 'completed',
      set(c) {
        c.target = { provider: 'openai', type: 'openai-compatible', model: 'gpt-4o' };
        c.servedModel = 'gpt-4o-2024-08-06';
        c.usage = { promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 4, reasoningTokens: 2 };
        c.costUsd = 0.00012;
        c.finalStatus = 200;
        c.durationMs = 321.5;
        c.firstByteAt = 12.3456;
        withResponse(c, 200, { 'content-type': 'text/event-stream' }, true);
      },
    });
    expect(await h.usageRecords()).toEqual([
      {
        id: ctx.id,
        requestId: 'req-1',
        time: ctx.receivedAt,
        keyId: 'key_1',
        user: 'ann',
        team: 'blue',
        tier: 'standard',
        endpoint: 'standard',
        api: 'chat.completions',
        provider: 'openai',
        modelRequested: 'gpt-4o',
        modelServed: 'gpt-4o-2024-08-06',
        promptTokens: 10,
        completionTokens: 5,
        cachedTokens: 4,
        reasoningTokens: 2,
        totalTokens: 15,
        costUsd: 0.00012,
        durationMs: 321.5,
        ttftMs: 12.35,
        status: 200,
        streamed: true,
        outcome: 'completed',
      },
    ]);
  });

  test('a request that went nowhere: nulls and zeros, never a failure', async () => {
    complete({ spec: { body: undefined, method: 'GET', path: '/v1/unknown' } });
    expect(await h.usageRecords()).toEqual([
      expect.objectContaining({
        keyId: null, user: null, team: null, tier: null, api: 'unknown', provider: null, modelRequested: null, modelServed: null,
        promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: 0, durationMs: 0, ttftMs: null, status: 0, streamed: false, outcome: null,
      }),
    ]);
  });

  test('without a model in the response, the target model is the one served', async () => {
    complete({ set: (c) => void (c.target = { provider: 'local', type: 'openai-compatible', model: 'llama3' }) });
    expect((await h.usageRecords())[0]).toMatchObject({ modelRequested: 'gpt-4o', modelServed: 'llama3', provider: 'local' });
  });

  test.each([
    ['the langchain path', { path: '/v1/langchain/chat/completions' }, 'langchain'],
    ['a langchain-tier key on the standard path', { principal: { id: 'k', kind: 'api_key', tier: 'langchain' } }, 'langchain'],
    ['a standard key on the standard path', { principal: { id: 'k', kind: 'api_key', tier: 'standard' } }, 'standard'],
    ['the path without /v1', { path: '/chat/completions' }, 'standard'],
  ] as [string, RequestSpec, string][])('%s is recorded as %s usage', async (_name, spec, endpoint) => {
    complete({ spec });
    expect((await h.usageRecords())[0].endpoint).toBe(endpoint);
  });

  test.each<ExchangeOutcome>(['completed', 'responded', 'cancelled', 'interrupted', 'failed'])('the outcome %s is recorded with its status', async (outcome) => {
    complete({ outcome, set: (c) => void (c.finalStatus = outcome === 'cancelled' ? 499 : 503) });
    expect((await h.usageRecords())[0]).toMatchObject({ outcome, status: outcome === 'cancelled' ? 499 : 503 });
  });

  test.each(['модель-🚀', '__proto__'])('the requested model %j is stored as sent', async (model) => {
    complete({ spec: { body: { model, messages } } });
    expect((await h.usageRecords())[0].modelRequested).toBe(model);
  });

  test('a record per request, kept once even if completed twice', async () => {
    const first = complete();
    complete();
    hooks.onComplete!(first);
    expect(await h.usageRecords()).toHaveLength(2);
    expect(await h.store.usage.count()).toBe(2);
  });

  test('records count toward the key’s totals (what budgets read)', async () => {
    for (const tokens of [10, 32]) {
      complete({
        spec: { principal: { id: 'key_t', kind: 'api_key' } },
        set(c) {
          c.usage = { promptTokens: tokens, completionTokens: 0, totalTokens: tokens };
          c.costUsd = 0.5;
        },
      });
    }
    await h.writer.flush();
    expect(await h.store.usage.totalsForKey('key_t')).toMatchObject({ requests: 2, totalTokens: 42, costUsd: 1 });
  });
});
