import recorder from '../../../plugins/usage-recorder';
import plugin, { cacheControl, cachePolicy, createResponseCache, modelRules, scopeOf, type Options } from '../../../plugins/response-cache';
import { cacheKey, canonicalJson, normaliseRequest } from '../../../plugins/response-cache/key';
import { replayAsStream, StreamAssembler } from '../../../plugins/response-cache/replay';
import { entryBytes, MemoryCache, type CacheBackend, type EvictionReason } from '../../../plugins/response-cache/store';
import { Exchange, type Continue, type Directive, type ExchangeDeps, type Respond } from '../../../src/core/exchange';
import { Headers } from '../../../src/core/headers';
import { SseEvent, SseParser } from '../../../src/domain/sse';
import type { JsonObject, JsonValue } from '../../../src/domain';
import type { PluginHooks, PluginHostApi, RequestContext } from '../../../src/plugins/api';
import { PluginHost, type LoadedPlugin } from '../../../src/plugins/host';
import { Pricing } from '../../../src/usage/pricing';
import { configure, exchangeDeps, harness, hooksPlugin, metricValue, optionProblems, requestContext, testHost, type TestHost } from './helpers';
import { CACHED_ANSWER_METADATA, type CachedAnswer, type ExchangeOutcome } from '../../../src/domain';

const messages = [{ role: 'user', content: 'hi' }];
const ev = (data: string | object) => {
  const d = typeof data === 'string' ? data : JSON.stringify(data);
  return new SseEvent(undefined, d, undefined, `data: ${d}\n\n`);
};
/** The data payloads of an SSE text, parsed (except [DONE]). */
const events = (sse: string) => new SseParser().push(sse).map((e) => (e.data === '[DONE]' ? '[DONE]' : JSON.parse(e.data)));

describe('options', () => {
  test('off by default, with a memory cache, team scope and free hits', () => {
    expect(configure(plugin)).toEqual({
      enabled: false,
      ttl_seconds: 300,
      models: {},
      endpoints: ['chat.completions', 'embeddings'],
      scope: 'team',
      redis_prefix: 'llm-gateway:response-cache:',
      redis_timeout_ms: 200,
      max_bytes: 64 * 1024 * 1024,
      max_entry_bytes: 1024 * 1024,
      sweep_interval_seconds: 60,
      cost_multiplier: 0,
    });
  });

  test('misspelt and out-of-range options are refused', () => {
    expect(optionProblems(plugin, { enable: true })).toEqual(['plugins[0].options.enable: unknown key']);
    expect(optionProblems(plugin, { models: { 'gpt-*': { ttl: 5 } } })).toHaveLength(1);
    expect(optionProblems(plugin, { ttl_seconds: 0 })).toHaveLength(1);
    expect(optionProblems(plugin, { endpoints: ['responses'] })).toHaveLength(1);
    expect(optionProblems(plugin, { cost_multiplier: -1 })).toHaveLength(1);
  });
});

describe('cache keys', () => {
  test('canonical JSON sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  test('fields that do not change the answer are ignored, and so are top-level nulls', () => {
    const body = { model: 'gpt-4o', messages, temperature: 0 };
    expect(normaliseRequest({ ...body, user: 'u', stream: true, stream_options: { include_usage: true }, metadata: { a: '1' }, store: true, top_p: null })).toEqual(body);
    const k = cacheKey({ team: 't' }, 'chat.completions', body);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ team: 't' }, 'chat.completions', { temperature: 0, user: 'x', messages, model: 'gpt-4o', stream: true })).toBe(k);
  });

  test.each<[string, JsonObject]>([
    ['the model', { model: 'gpt-4o-mini' }],
    ['the messages', { messages: [{ role: 'user', content: 'hi!' }] }],
    ['a system message', { messages: [{ role: 'system', content: 's' }, ...messages] }],
    ['the tools', { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }],
    ['the temperature', { temperature: 0.5 }],
    ['the seed', { seed: 1 }],
    ['the response format', { response_format: { type: 'json_object' } }],
  ])('%s changes the key', (_name, change) => {
    const body = { model: 'gpt-4o', messages, temperature: 0 };
    expect(cacheKey({ team: 't' }, 'chat.completions', { ...body, ...change })).not.toBe(cacheKey({ team: 't' }, 'chat.completions', body));
  });

  test('the scope and the endpoint are part of the key', () => {
    const body = { model: 'm', input: 'x' };
    const keys = new Set([
      cacheKey({ team: 'a' }, 'embeddings', body),
      cacheKey({ team: 'b' }, 'embeddings', body),
      cacheKey({ key: 'api_key:a' }, 'embeddings', body),
      cacheKey({ global: true }, 'embeddings', body),
      cacheKey({ team: 'a' }, 'chat.completions', body),
    ]);
    expect(keys.size).toBe(5);
  });

  test('scope: the team, else the key alone; `key` scope always the key', () => {
    expect(scopeOf({ id: 'k1', kind: 'api_key', team: 'blue' }, 'team')).toEqual({ team: 'blue' });
    expect(scopeOf({ id: 'k1', kind: 'api_key' }, 'team')).toEqual({ key: 'api_key:k1' });
    expect(scopeOf({ id: 'k1', kind: 'api_key', team: 'blue' }, 'key')).toEqual({ key: 'api_key:k1' });
    expect(scopeOf(undefined, 'team')).toEqual({ global: true });
  });
});

describe('when caching applies', () => {
  const on = { enabled: true, ttl_seconds: 60 };
  const off = { enabled: false, ttl_seconds: 60 };
  test.each<[string, typeof on, object | undefined, boolean | undefined, number | undefined]>([
    ['globally on', on, undefined, undefined, 60_000],
    ['globally off', off, undefined, undefined, undefined],
    ['a model opted in with its own TTL', off, { enabled: true, ttl_seconds: 5 }, undefined, 5_000],
    ['a model listed for its TTL only', on, { ttl_seconds: 5 }, undefined, 5_000],
    ['a model opted out', on, { enabled: false }, undefined, undefined],
    ['a key opted in', off, undefined, true, 60_000],
    ['a key opted out', on, { enabled: true }, false, undefined],
    ['a key opted in, a model opted out', off, { enabled: false }, true, undefined],
  ])('%s', (_name, options, rule, keyPref, ttlMs) => {
    expect(cachePolicy(options, rule as never, keyPref)?.ttlMs).toBe(ttlMs);
  });

  test('model rules: the exact id, then the longest prefix', () => {
    const rules = modelRules({ 'gpt-*': { ttl_seconds: 1 }, 'gpt-4o*': { ttl_seconds: 2 }, 'gpt-4o-mini': { ttl_seconds: 3 } });
    expect(rules('gpt-4o-mini')?.ttl_seconds).toBe(3);
    expect(rules('gpt-4o-2024')?.ttl_seconds).toBe(2);
    expect(rules('gpt-3.5')?.ttl_seconds).toBe(1);
    expect(rules('claude')).toBeUndefined();
  });

  test('Cache-Control directives', () => {
    expect(cacheControl(undefined)).toEqual({ noCache: false, noStore: false });
    expect(cacheControl('No-Cache')).toEqual({ noCache: true, noStore: false });
    expect(cacheControl('max-age=0, no-store')).toEqual({ noCache: false, noStore: true });
  });
});

describe('memory cache', () => {
  function cache(maxBytes: number) {
    let t = 1_000;
    const evicted: EvictionReason[] = [];
    const c = new MemoryCache({ maxBytes, now: () => t, onEvict: (r) => void evicted.push(r) });
    return { c, evicted, advance: (ms: number) => void (t += ms) };
  }
  const size = entryBytes('k1', 'v'.repeat(100));

  test('an entry lives for its TTL', () => {
    const { c, evicted, advance } = cache(10_000);
    expect(c.set('k1', 'value', 1000)).toBe(true);
    advance(999);
    expect(c.get('k1')).toBe('value');
    advance(1);
    expect(c.get('k1')).toBeUndefined();
    expect(evicted).toEqual(['expired']);
    expect(c.bytes).toBe(0);
  });

  test('least recently used entries go first when the bytes run out', () => {
    const { c, evicted } = cache(3 * size);
    for (const k of ['k1', 'k2', 'k3']) c.set(k, 'v'.repeat(100), 60_000);
    expect(c.bytes).toBe(3 * size);
    c.get('k1'); // k2 is now the least recently used
    c.set('k4', 'v'.repeat(100), 60_000);
    expect(['k1', 'k2', 'k3', 'k4'].map((k) => c.get(k) !== undefined)).toEqual([true, false, true, true]);
    expect(evicted).toEqual(['size']);
    expect(c.bytes).toBeLessThanOrEqual(3 * size);
  });

  test('an entry larger than the whole cache is refused; a replaced one is not an eviction', () => {
    const { c, evicted } = cache(size);
    expect(c.set('k1', 'v'.repeat(101), 60_000)).toBe(false);
    expect(c.set('k1', 'v'.repeat(100), 60_000)).toBe(true);
    expect(c.set('k1', 'w'.repeat(100), 60_000)).toBe(true);
    expect(c.get('k1')).toBe('w'.repeat(100));
    expect([c.size, c.bytes, evicted]).toEqual([1, size, []]);
  });

  test('a sweep drops what expired', () => {
    const { c, evicted, advance } = cache(10_000);
    c.set('a', '1', 100);
    c.set('b', '2', 500);
    advance(200);
    expect(c.sweep()).toBe(1);
    expect([c.size, evicted]).toEqual([1, ['expired']]);
  });
});

describe('streams and buffered answers', () => {
  const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-2024', system_fingerprint: 'fp' };
  const chunk = (index: number, delta: object, finish: string | null = null) => ({ ...head, choices: [{ index, delta, logprobs: null, finish_reason: finish }] });
  const usage = { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 };

  function assemble(payloads: (string | object)[]) {
    const a = new StreamAssembler();
    for (const p of payloads) a.push(ev(p));
    return a.result();
  }

  const textStream = [chunk(0, { role: 'assistant', content: '' }), chunk(0, { content: 'Hel' }), chunk(0, { content: 'lo' }), chunk(0, {}, 'stop'), { ...head, choices: [], usage }, '[DONE]'];
  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o-2024',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    system_fingerprint: 'fp',
    usage,
  };

  test('a stream is assembled into the completion a buffered request gets', () => {
    expect(assemble(textStream)).toEqual(completion);
  });

  test('tool calls streamed in pieces, and several choices', () => {
    const call = { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } };
    const out = assemble([
      chunk(1, { role: 'assistant', content: 'B' }),
      chunk(0, { role: 'assistant', content: null, tool_calls: [call] }),
      chunk(0, { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk(0, { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk(0, {}, 'tool_calls'),
      chunk(1, {}, 'stop'),
      '[DONE]',
    ]);
    expect(out?.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, logprobs: null, finish_reason: 'tool_calls' },
      { index: 1, message: { role: 'assistant', content: 'B', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ]);
  });

  test.each<[string, (string | object)[]]>([
    ['no [DONE] (cut short)', textStream.slice(0, -1)],
    ['no finish_reason', [chunk(0, { content: 'x' }), '[DONE]']],
    ['an error event', [chunk(0, { content: 'x' }), { error: { message: 'blocked' } }, '[DONE]']],
    ['audio it cannot store', [chunk(0, { audio: { id: 'a' } }), chunk(0, {}, 'stop'), '[DONE]']],
    ['nothing but [DONE]', ['[DONE]']],
  ])('an incomplete stream is not stored: %s', (_name, payloads) => {
    expect(assemble(payloads)).toBeUndefined();
  });

  test('a completion replays as chunks, the usage chunk only when asked for, then [DONE]; and assembles back', () => {
    const sse = replayAsStream(completion, true)!;
    const out = events(sse);
    expect(out.at(-1)).toBe('[DONE]');
    expect(out.at(-2)).toEqual({ ...head, choices: [], usage });
    expect(out[0]).toEqual({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' }, logprobs: null, finish_reason: null }] });
    expect(assemble(out)).toEqual(completion);
    expect(events(replayAsStream(completion, false)!).filter((e) => e !== '[DONE]' && e.usage)).toEqual([]);
  });

  test('a completion with tool calls round-trips; one with audio is not replayed', () => {
    const message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    const withTools = { ...completion, choices: [{ index: 0, message, logprobs: null, finish_reason: 'tool_calls' }] };
    expect(assemble(events(replayAsStream(withTools, true)!))).toEqual(withTools);
    expect(replayAsStream({ ...completion, choices: [{ index: 0, message: { role: 'assistant', audio: { id: 'a' } }, finish_reason: 'stop' }] }, false)).toBeUndefined();
    expect(replayAsStream({ object: 'list', data: [] }, false)).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------------
// Through the real Exchange: model-router, response-cache, usage-recorder, as the processor runs them.

interface Rig {
  h: TestHost;
  deps: ExchangeDeps;
  advance(ms: number): void;
  completed: RequestContext[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.h.close();
});

const PRICES = new Pricing({ models: { 'gpt-4o': { input: 2.5, output: 10 } }, tier_multipliers: {} });

async function rig(options: Partial<Options> = {}, extra: { backend?: CacheBackend; before?: PluginHooks } = {}): Promise<Rig> {
  const h = await testHost({ providers: [{ name: 'openai', type: 'openai-compatible', models: ['gpt-*'] }] });
  let t = 1_700_000_000_000;
  const loaded = await h.load(['model-router', 'usage-recorder']);
  const [router, recorder] = loaded.plugins as [LoadedPlugin, LoadedPlugin];
  const api: PluginHostApi = {
    log: h.log,
    baseDir: '.',
    providers: {
      list: () => h.registry.all().map((p) => h.registry.info(p)),
      get: (name) => {
        const p = h.registry.get(name);
        return p && h.registry.info(p);
      },
      resolve: (m) => h.registry.resolve(m),
      models: () => h.registry.catalog(),
    },
    ...h.services,
    pricing: PRICES,
  };
  const cache = createResponseCache(configure(plugin, { enabled: true, redis_url: '', ...options }), api, { now: () => t, backend: extra.backend });
  const who: PluginHooks = {
    onRequestHeaders(ctx) {
      const team = ctx.request.headers.get('x-test-team');
      ctx.principal = { id: ctx.request.headers.get('x-test-key') ?? 'key_1', kind: 'api_key', team: team || undefined, tier: 'standard' };
    },
  };
  const completed: RequestContext[] = [];
  const plugins = new PluginHost(
    [
      hooksPlugin('who', who),
      router,
      ...(extra.before ? [hooksPlugin('before', extra.before)] : []),
      hooksPlugin('response-cache', cache),
      recorder,
      hooksPlugin('done', { onComplete: (c) => void completed.push(c) }),
    ],
    h.log,
  );
  const deps = exchangeDeps(h, plugins, { pricing: PRICES });
  const r: Rig = { h, deps, advance: (ms) => void (t += ms), completed };
  rigs.push(r);
  return r;
}

const settle = () => new Promise((r) => setImmediate(r));
const completionOf = (content: string) => ({
  id: 'chatcmpl-x',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
});

interface Upstream {
  status?: number;
  json?: JsonValue;
  /** SSE text, for a streamed answer. */
  sse?: string;
}

interface Outcome {
  /** The gateway's own reply (a hit), if it answered. */
  reply?: Respond;
  /** Response header edits on a live answer. */
  responseHeaders?: Record<string, string | null>;
  ctx: RequestContext;
}

/** One request through a fresh Exchange; `upstream` answers it when it goes upstream. */
async function send(r: Rig, body: JsonObject, headers: Record<string, string> = {}, upstream: Upstream = { json: completionOf('hello') }): Promise<Outcome> {
  const ex = new Exchange(r.deps);
  await ex.requestHeaders(new Headers(Object.entries({ ':method': 'POST', ':path': '/v1/chat/completions', ...headers })), false);
  const d: Directive = await ex.requestBody(Buffer.from(JSON.stringify(body)));
  if (d.kind === 'respond') {
    ex.finish('responded');
    await settle();
    return { reply: d, ctx: ex.ctx };
  }
  const status = upstream.status ?? 200;
  const streamed = upstream.sse !== undefined;
  const rh = (await ex.responseHeaders(new Headers(Object.entries({ ':status': String(status), 'content-type': streamed ? 'text/event-stream' : 'application/json' })), false)) as Continue;
  await ex.responseBody(Buffer.from(streamed ? upstream.sse! : JSON.stringify(upstream.json)), true);
  ex.finish('completed');
  await settle();
  return { responseHeaders: Object.fromEntries(rh.headers ?? []), ctx: ex.ctx };
}

const ask = (extra: JsonObject = {}): JsonObject => ({ model: 'gpt-4o', messages, ...extra });
const m = (r: Rig, name: string, labels: Record<string, string>) => metricValue(r.h.metrics, name, labels);

describe('through the exchange', () => {
  test('a miss goes upstream and is stored; the repeat is answered by the gateway, in the same shape', async () => {
    const r = await rig();
    const first = await send(r, ask());
    expect(first.reply).toBeUndefined();
    expect(first.responseHeaders).toMatchObject({ 'x-gateway-cache': 'miss' });

    const second = await send(r, ask({ user: 'someone-else' }));
    expect(second.reply).toMatchObject({ status: 200, headers: { 'content-type': 'application/json', 'x-gateway-cache': 'hit', age: '0' } });
    expect(JSON.parse(second.reply!.body.toString())).toEqual(completionOf('hello'));
    expect(second.ctx.outcome).toBe('responded');

    expect(await m(r, 'gateway_response_cache_lookups_total', { backend: 'memory', result: 'miss' })).toBe(1);
    expect(await m(r, 'gateway_response_cache_lookups_total', { backend: 'memory', result: 'hit' })).toBe(1);
    expect(await m(r, 'gateway_response_cache_stores_total', { backend: 'memory', result: 'stored' })).toBe(1);
    expect(await m(r, 'gateway_response_cache_bytes_total', { backend: 'memory', op: 'stored' })).toBeGreaterThan(0);
  });

  test('a hit is one usage record, flagged cached, with the cached tokens and the cached rate', async () => {
    const r = await rig({ cost_multiplier: 0.5 });
    const live = await send(r, ask());
    const hit = await send(r, ask());
    const records = await r.h.usageRecords();
    expect(records).toHaveLength(2);
    const byId = new Map(records.map((x) => [x.id, x]));
    // 1000 prompt tokens at $2.5/M and 500 completion tokens at $10/M: $0.0075 live.
    expect(byId.get(live.ctx.id)).toMatchObject({ costUsd: 0.0075, totalTokens: 1500, outcome: 'completed' });
    expect(byId.get(live.ctx.id)!.cached).toBeUndefined();
    expect(byId.get(hit.ctx.id)).toMatchObject({
      cached: true,
      costUsd: 0.00375,
      promptTokens: 1000,
      completionTokens: 500,
      totalTokens: 1500,
      modelServed: 'gpt-4o-2024-08-06',
      provider: 'openai',
      status: 200,
      outcome: 'responded',
      streamed: false,
    });
    // The core counted no tokens or cost for the hit (nothing went upstream).
    expect(hit.ctx.costUsd).toBeUndefined();
  });

  test('the cost multiplier defaults to 0: hits are free', async () => {
    const r = await rig();
    await send(r, ask());
    const hit = await send(r, ask());
    expect((await r.h.usageRecords()).find((x) => x.id === hit.ctx.id)).toMatchObject({ cached: true, costUsd: 0, totalTokens: 1500 });
  });

  test('a buffered entry is replayed as a stream to a stream request, with usage only when asked for', async () => {
    const r = await rig();
    await send(r, ask());
    const plain = await send(r, ask({ stream: true }));
    expect(plain.reply).toMatchObject({ status: 200, headers: { 'content-type': 'text/event-stream', 'x-gateway-cache': 'hit' } });
    const out = events(plain.reply!.body.toString());
    expect(out.at(-1)).toBe('[DONE]');
    expect(out.filter((e) => e !== '[DONE]').every((e) => e.object === 'chat.completion.chunk' && e.choices.length === 1)).toBe(true);
    expect(out.map((e) => (e === '[DONE]' ? '' : (e.choices[0].delta.content ?? ''))).join('')).toBe('hello');

    const withUsage = await send(r, ask({ stream: true, stream_options: { include_usage: true } }));
    expect(events(withUsage.reply!.body.toString()).at(-2)).toMatchObject({ choices: [], usage: { total_tokens: 1500 } });
    expect((await r.h.usageRecords()).filter((x) => x.cached).map((x) => x.streamed)).toEqual([true, true]);
  });

  test('a streamed answer is stored assembled, and a buffered request gets it as JSON', async () => {
    const r = await rig();
    const chunk = (delta: object, finish: string | null = null) => ({ id: 'c-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta, finish_reason: finish }] });
    const sse = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'str' }), chunk({ content: 'eamed' }), chunk({}, 'stop'), { ...chunk({}), choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }]
      .map((c) => `data: ${JSON.stringify(c)}\n\n`)
      .join('') + 'data: [DONE]\n\n';
    const live = await send(r, ask({ stream: true }), {}, { sse });
    expect(live.responseHeaders).toMatchObject({ 'x-gateway-cache': 'miss' });
    const hit = await send(r, ask());
    expect(JSON.parse(hit.reply!.body.toString())).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'streamed' }, finish_reason: 'stop' }],
      usage: { total_tokens: 6 },
    });
    expect((await r.h.usageRecords()).find((x) => x.id === hit.ctx.id)).toMatchObject({ cached: true, totalTokens: 6, streamed: false });
  });

  test('a stream cut short is not stored', async () => {
    const r = await rig();
    const sse = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'par' }, finish_reason: null }] })}\n\n`;
    await send(r, ask({ stream: true }), {}, { sse });
    expect((await send(r, ask())).reply).toBeUndefined();
    expect(await m(r, 'gateway_response_cache_stores_total', { backend: 'memory', result: 'skipped' })).toBe(1);
  });

  test('entries expire after their TTL (per model)', async () => {
    const r = await rig({ models: { 'gpt-4o*': { ttl_seconds: 10 } } });
    await send(r, ask());
    r.advance(9_000);
    expect((await send(r, ask())).reply?.headers).toMatchObject({ 'x-gateway-cache': 'hit', age: '9' });
    r.advance(1_000);
    expect((await send(r, ask())).reply).toBeUndefined();
  });

  test('teams never share entries; a key without a team shares with nobody', async () => {
    const r = await rig();
    await send(r, ask(), { 'x-test-team': 'blue', 'x-test-key': 'k1' });
    expect((await send(r, ask(), { 'x-test-team': 'blue', 'x-test-key': 'k2' })).reply).toBeDefined();
    expect((await send(r, ask(), { 'x-test-team': 'red', 'x-test-key': 'k3' })).reply).toBeUndefined();
    await send(r, ask(), { 'x-test-key': 'solo' });
    expect((await send(r, ask(), { 'x-test-key': 'solo' })).reply).toBeDefined();
    expect((await send(r, ask(), { 'x-test-key': 'other' })).reply).toBeUndefined();
  });

  test('errors are never stored', async () => {
    const r = await rig();
    const err = { error: { message: 'overloaded', type: 'server_error', param: null, code: null } };
    const live = await send(r, ask(), {}, { status: 500, json: err });
    expect(live.responseHeaders).toMatchObject({ 'x-gateway-cache': 'miss' });
    await send(r, ask(), {}, { status: 429, json: err });
    expect((await send(r, ask())).reply).toBeUndefined();
    expect(await m(r, 'gateway_response_cache_stores_total', { backend: 'memory', result: 'stored' })).toBe(1);
  });

  test('Cache-Control: no-cache skips the read but stores; no-store does neither', async () => {
    const r = await rig();
    await send(r, ask());
    const fresh = await send(r, ask(), { 'cache-control': 'no-cache' }, { json: completionOf('fresher') });
    expect(fresh.reply).toBeUndefined();
    expect(fresh.responseHeaders).toMatchObject({ 'x-gateway-cache': 'miss' });
    expect(JSON.parse((await send(r, ask())).reply!.body.toString()).choices[0].message.content).toBe('fresher');

    await send(r, ask({ seed: 7 }), { 'cache-control': 'no-store' });
    expect((await send(r, ask({ seed: 7 }))).reply).toBeUndefined();
    // The entry of ask() is there, but a no-store request does not read it either.
    expect((await send(r, ask(), { 'cache-control': 'no-store' })).reply).toBeUndefined();
    expect(await m(r, 'gateway_response_cache_lookups_total', { backend: 'memory', result: 'bypass' })).toBe(3);
  });

  test('off unless enabled: no lookup, no header; a key opts in through its metadata', async () => {
    const r = await rig({ enabled: false });
    const live = await send(r, ask());
    expect(live.responseHeaders?.['x-gateway-cache']).toBeUndefined();
    expect((await send(r, ask())).reply).toBeUndefined();

    const optIn: PluginHooks = { onRequest: (ctx) => void (ctx.principal = { ...ctx.principal!, attributes: { metadata: { response_cache: true } } }) };
    const r2 = await rig({ enabled: false }, { before: optIn });
    await send(r2, ask());
    expect((await send(r2, ask())).reply).toBeDefined();
  });

  test('while the content filter has response rules for the request, the cache stays out of the way', async () => {
    const filtering: PluginHooks = { onRequest: (ctx) => void ctx.metadata.set('content-filter.filters', { request: [], response: [{ name: 'r' }] }) };
    const r = await rig({}, { before: filtering });
    const live = await send(r, ask());
    expect(live.responseHeaders?.['x-gateway-cache']).toBeUndefined();
    expect((await send(r, ask())).reply).toBeUndefined();
  });

  test('a backend that fails: served uncached, counted, never a failure', async () => {
    const broken: CacheBackend = {
      name: 'redis',
      get: () => Promise.reject(new Error('Stream isn’t writeable')),
      set: () => Promise.reject(new Error('Connection is closed')),
      close: () => undefined,
    };
    const r = await rig({}, { backend: broken });
    const first = await send(r, ask());
    expect(first.responseHeaders).toMatchObject({ 'x-gateway-cache': 'miss' });
    await settle();
    expect((await send(r, ask())).reply).toBeUndefined();
    expect(await m(r, 'gateway_response_cache_errors_total', { backend: 'redis', op: 'get' })).toBe(2);
    expect(await m(r, 'gateway_response_cache_errors_total', { backend: 'redis', op: 'set' })).toBe(2);
    expect(await m(r, 'gateway_response_cache_lookups_total', { backend: 'redis', result: 'error' })).toBe(2);
  });

  test('a caller the core would refuse is never answered from the cache', async () => {
    const restrict: PluginHooks = {
      onRequest(ctx) {
        if (ctx.request.headers.get('x-test-restrict')) ctx.principal = { ...ctx.principal!, allowedProviders: ['other'] };
      },
    };
    const r = await rig({}, { before: restrict });
    await send(r, ask());
    expect((await send(r, ask())).reply?.headers['x-gateway-cache']).toBe('hit');
    const out = await send(r, ask(), { 'x-test-restrict': '1' });
    expect(out.reply?.status).toBe(403);
    expect(out.reply?.headers['x-gateway-cache']).toBeUndefined();
  });
});

describe('usage-recorder and cached answers', () => {
  const answer: CachedAnswer = { usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 }, costUsd: 0.25, model: 'gpt-4o-2024', streamed: true };
  test.each<[ExchangeOutcome, number, boolean]>([
    ['responded', 200, true],
    // The client left before it had the answer, or another plugin answered after all: not a hit.
    ['cancelled', 499, false],
    ['responded', 500, false],
  ])('outcome %s with status %i: flagged cached %s', async (outcome, status, cached) => {
    const { h, hooks } = await harness(recorder);
    try {
      const ctx = requestContext({ id: `ex-${outcome}-${status}`, body: { model: 'gpt-4o', messages } });
      ctx.target = { provider: 'openai', type: 'openai-compatible', model: 'gpt-4o' };
      ctx.metadata.set(CACHED_ANSWER_METADATA, answer);
      ctx.outcome = outcome;
      ctx.finalStatus = status;
      hooks.onComplete!(ctx);
      const [rec] = await h.usageRecords();
      if (cached) expect(rec).toMatchObject({ cached: true, totalTokens: 10, promptTokens: 7, costUsd: 0.25, modelServed: 'gpt-4o-2024', streamed: true });
      else expect(rec).toMatchObject({ totalTokens: 0, costUsd: 0, modelServed: 'gpt-4o', streamed: false });
      if (!cached) expect(rec!.cached).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});
