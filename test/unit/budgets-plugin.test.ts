import plugin from '../../plugins/budgets';
import { BudgetService, MemoryLedger } from '../../src/budgets';
import { DEFAULT_BUDGETS } from '../../src/budgets/config';
import { SseEvent } from '../../src/domain/sse';
import type { BudgetLedger, PluginHooks, PluginHostApi, ShortCircuit } from '../../src/plugins/api';
import { Pricing } from '../../src/usage/pricing';
import { GatewayMetrics } from '../../src/observability/metrics';
import { configure, gatewayError, requestContext } from './plugins/helpers';
import type { ExchangeContext } from '../../src/core/context';
import type { JsonObject, Principal } from '../../src/domain';

/**
 * The budgets plugin against the in-process ledger: admission, refusals, the bound on buffered
 * requests, counting a stream in steps, ending it, and settling what was really spent.
 */

const zero = { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0 };

interface Rig {
  hooks: PluginHooks;
  calls: string[];
  ledger: BudgetLedger;
  down: { on: boolean };
}

function rig(options: Record<string, unknown> = {}, spent: { key?: number; team?: number } = {}): Rig {
  const calls: string[] = [];
  const down = { on: false };
  const service = new BudgetService({ ...DEFAULT_BUDGETS, step_tokens: 50, teams: { thrifty: { tokens: 1000 } } }, new MemoryLedger(), {
    forKey: async () => ({ ...zero, totalTokens: spent.key ?? 0 }),
    forTeam: async () => ({ ...zero, totalTokens: spent.team ?? 0 }),
  });
  // The ledger as the plugin sees it, counting its calls and failing on demand.
  const ledger: BudgetLedger = {
    settings: service.settings,
    teamBudget: (t) => service.teamBudget(t),
    reserve: (id, asks) => (calls.push('reserve'), down.on ? Promise.reject(new Error('down')) : service.reserve(id, asks)),
    extend: (id, asks) => (calls.push('extend'), down.on ? Promise.reject(new Error('down')) : service.extend(id, asks)),
    settle: (id, spent) => (calls.push(`settle ${spent.map((s) => `${s.account.scope}:${s.account.unit}=${s.amount}`).join(',')}`), service.settle(id, spent)),
  };
  const host = {
    budgets: ledger,
    metrics: new GatewayMetrics({ defaultMetrics: false }).api,
    pricing: new Pricing({ models: { 'gpt-4o': { input: 1000, output: 2000 } }, tier_multipliers: {} }),
    providers: { get: () => ({ type: 'openai' }) },
    log: { warn() {}, info() {}, debug() {}, error() {}, child: () => host.log },
  } as unknown as PluginHostApi;
  return { hooks: plugin.create(configure(plugin, options), host) as PluginHooks, calls, ledger, down };
}

let seq = 0;
function ctxFor(principal: Principal, body: JsonObject): ExchangeContext {
  const ctx = requestContext({ body, principal, id: `ex-${++seq}` });
  ctx.target = { provider: 'openai', type: 'openai', model: 'gpt-4o' } as any;
  return ctx;
}

const key = (tokens: number | null, usd: number | null = null, team?: string): Principal => ({ id: `key-${seq}`, kind: 'api_key', team, budgets: { tokens, usd } });
const chat = (extra: JsonObject = {}): JsonObject => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...extra });
const text = (s: string) => new SseEvent(undefined, JSON.stringify({ choices: [{ index: 0, delta: { content: s } }] }));

test('a caller without budgets costs no ledger call and no promise', () => {
  const { hooks, calls } = rig();
  const ctx = ctxFor({ id: 'free', kind: 'api_key', team: 'other', budgets: { tokens: null, usd: null } }, chat({ stream: true }));
  expect(hooks.onRequest!(ctx)).toBeUndefined();
  expect(hooks.onResponseChunk!(ctx, text('hello'))).toBeUndefined();
  expect(hooks.onComplete!(ctx)).toBeUndefined();
  expect(calls).toEqual([]);
  expect(ctx.wantsEndableStream).toBe(false);
});

test('a spent budget is refused before upstream: the key, or its team', async () => {
  const { hooks } = rig({}, { key: 100, team: 1000 });
  const byKey = await gatewayError(() => hooks.onRequest!(ctxFor(key(100), chat())));
  expect(byKey).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
  expect(byKey.message).toMatch(/^This key has used up/);
  const byTeam = await gatewayError(() => hooks.onRequest!(ctxFor(key(null, null, 'thrifty'), chat())));
  expect(byTeam.message).toMatch(/team has used up/);
});

test('a remainder below a minimal request (prompt + 1) is refused; at it, admitted', async () => {
  const { hooks } = rig({}, { key: 990 });
  const long = chat({ messages: [{ role: 'user', content: 'x'.repeat(40) }] }); // ~14 tokens
  await expect(gatewayError(() => hooks.onRequest!(ctxFor(key(1000), long)))).resolves.toMatchObject({ code: 'insufficient_quota' });
  await hooks.onRequest!(ctxFor(key(1000), chat()));
});

test('a buffered request is bounded by what is left: its limit lowered, in the field it used', async () => {
  const { hooks } = rig({}, { key: 900 });
  const ctx = ctxFor(key(1000), chat({ max_tokens: 500 }));
  await hooks.onRequest!(ctx);
  expect(ctx.request.body!.max_tokens).toBeGreaterThan(85);
  expect(ctx.request.body!.max_tokens).toBeLessThan(100);
  // No limit set, an openai provider: max_completion_tokens.
  const ctx2 = ctxFor(key(1000), chat());
  await hooks.onRequest!(ctx2);
  expect(ctx2.request.body!.max_completion_tokens).toBeGreaterThanOrEqual(1);
  // A limit that fits is left alone.
  const { hooks: roomy } = rig();
  const ctx3 = ctxFor(key(1000), chat({ max_tokens: 50 }));
  await roomy.onRequest!(ctx3);
  expect(ctx3.request.body).toEqual(chat({ max_tokens: 50 }));
});

test('a stream holds more in steps, not per chunk, and is ended on the event that crosses the budget', async () => {
  const { hooks, calls } = rig();
  const ctx = ctxFor(key(200), chat({ stream: true, max_tokens: 20 }));
  await hooks.onRequest!(ctx);
  expect(ctx.wantsEndableStream).toBe(true);
  let cut: ShortCircuit | undefined;
  let n = 0;
  while (!cut && n < 1000) {
    n++;
    cut = (await hooks.onResponseChunk!(ctx, text('tok '))) as ShortCircuit | undefined;
  }
  // prompt ~5 + n one-token events: the 200 is crossed by exactly one event.
  expect(ctx.usage!.totalTokens).toBe(201);
  expect(cut).toMatchObject({ kind: 'respond', status: 429, outcome: 'budget_exceeded', body: { error: { code: 'insufficient_quota' } } });
  // Held 20 + prompt, then steps of 50: a handful of ledger calls for ~195 events.
  expect(calls.filter((c) => c === 'extend').length).toBeLessThanOrEqual(5);
  expect(await hooks.onResponseChunk!(ctx, text('tok '))).toBeUndefined();
  await hooks.onComplete!(ctx);
  expect(calls.at(-1)).toBe('settle key:tokens=201');
});

test("settles with the provider's usage when it came, with the count when the client left, with nothing without an answer", async () => {
  const { hooks, calls } = rig();
  const done = ctxFor(key(10_000), chat({ stream: true }));
  await hooks.onRequest!(done);
  await hooks.onResponseChunk!(done, text('hello there'));
  await hooks.onResponseChunk!(done, new SseEvent(undefined, JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } })));
  done.setUsage({ promptTokens: 7, completionTokens: 3, totalTokens: 10 }); // what the core reads from that chunk
  await hooks.onComplete!(done);
  expect(calls.at(-1)).toBe('settle key:tokens=10');

  const gone = ctxFor(key(10_000), chat({ stream: true }));
  await hooks.onRequest!(gone);
  for (let i = 0; i < 3; i++) await hooks.onResponseChunk!(gone, text('abcd'));
  await hooks.onComplete!(gone);
  expect(calls.at(-1)).toMatch(/^settle key:tokens=\d+$/);
  expect(gone.usage).toMatchObject({ completionTokens: 3 });
  expect(calls.at(-1)).toBe(`settle key:tokens=${gone.usage!.totalTokens}`);

  const refused = ctxFor(key(10_000), chat());
  await hooks.onRequest!(refused);
  await hooks.onComplete!(refused);
  expect(calls.at(-1)).toBe('settle key:tokens=0');
});

test("the provider's usage corrects the count: in every event (continuous usage), or alone at the end", async () => {
  const { hooks } = rig();
  // A server that reports usage in every event: its count is used, and the stream still ends at the budget.
  const ctx = ctxFor(key(100), chat({ stream: true }));
  await hooks.onRequest!(ctx);
  let cut: unknown;
  let n = 0;
  while (!cut && n < 500) {
    n++;
    const ev = { choices: [{ index: 0, delta: { content: 'tok ' } }], usage: { prompt_tokens: 10, completion_tokens: 2 * n, total_tokens: 10 + 2 * n } };
    cut = await hooks.onResponseChunk!(ctx, new SseEvent(undefined, JSON.stringify(ev)));
  }
  expect(cut).toMatchObject({ outcome: 'budget_exceeded' });
  expect(n).toBe(46); // 10 + 2n > 100 first at n = 46

  // A usage report alone, after the whole answer: recorded, never turned into an error.
  const end = ctxFor(key(100), chat({ stream: true }));
  await hooks.onRequest!(end);
  await hooks.onResponseChunk!(end, text('short answer'));
  const usageOnly = new SseEvent(undefined, JSON.stringify({ choices: [], usage: { prompt_tokens: 90, completion_tokens: 30, total_tokens: 120 } }));
  expect(await hooks.onResponseChunk!(end, usageOnly)).toBeUndefined();
});

test('dollar budgets are priced per model and settled with the cost', async () => {
  const { hooks, calls } = rig();
  // gpt-4o at $2000 per million output tokens: $0.2 is 100 output tokens.
  const ctx = ctxFor(key(null, 0.2), chat({ stream: true }));
  await hooks.onRequest!(ctx);
  let cut: unknown;
  for (let i = 0; i < 500 && !cut; i++) cut = await hooks.onResponseChunk!(ctx, text('tok '));
  expect(cut).toMatchObject({ outcome: 'budget_exceeded' });
  expect(ctx.usage!.completionTokens).toBeGreaterThan(90);
  expect(ctx.usage!.completionTokens).toBeLessThanOrEqual(100);
  await hooks.onComplete!(ctx);
  expect(calls.at(-1)).toMatch(/^settle key:usd=0\.2\d*$/);
});

test('while the ledger is down: fail_closed refuses with 503 budget_unavailable, fail_open admits', async () => {
  const closed = rig();
  closed.down.on = true;
  await expect(gatewayError(() => closed.hooks.onRequest!(ctxFor(key(100), chat())))).resolves.toMatchObject({ status: 503, code: 'budget_unavailable', headers: { 'retry-after': '1' } });
  const open = rig({ failure_mode: 'fail_open' });
  open.down.on = true;
  const ctx = ctxFor(key(100), chat({ stream: true }));
  await open.hooks.onRequest!(ctx);
  expect(ctx.wantsEndableStream).toBe(false);
});

test("a stream longer than the hold's lifetime keeps its hold: renewed past half of it, off the event's path", async () => {
  let now = 1_000_000;
  const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
  try {
    const service = new BudgetService({ ...DEFAULT_BUDGETS, hold_ttl_seconds: 60 }, new MemoryLedger(() => now), {
      forKey: async () => zero,
      forTeam: async () => zero,
    });
    const extends_: number[] = [];
    const ledger: BudgetLedger = {
      settings: service.settings,
      teamBudget: () => undefined,
      reserve: (id, asks) => service.reserve(id, asks),
      extend: (id, asks) => (extends_.push(asks.reduce((s, a) => s + a.want, 0)), service.extend(id, asks)),
      settle: (id, spent) => service.settle(id, spent),
    };
    const host = {
      budgets: ledger,
      metrics: new GatewayMetrics({ defaultMetrics: false }).api,
      pricing: new Pricing({ models: {}, tier_multipliers: {} }),
      providers: { get: () => ({ type: 'openai' }) },
      log: { warn() {}, info() {}, debug() {}, error() {}, child: () => host.log },
    } as unknown as PluginHostApi;
    const hooks = plugin.create(configure(plugin, {}), host) as PluginHooks;
    const principal: Principal = { id: 'long-stream', kind: 'api_key', budgets: { tokens: 1000, usd: null } };
    const ctx = ctxFor(principal, chat({ stream: true, max_tokens: 100 }));
    await hooks.onRequest!(ctx);
    const account = { scope: 'key' as const, id: 'long-stream', unit: 'tokens' as const, limit: 1000 };
    // What another request could hold now: the budget less the stream's live hold.
    const left = async () => {
      const r = await service.reserve(`probe-${now}`, [{ account, want: 1000, min: 0 }]);
      if (!r.ok) throw new Error('probe refused');
      return r.granted[0];
    };
    const held = 1000 - (await left());
    await service.settle(`probe-${now}`, [{ account, amount: 0 }]);
    expect(held).toBeGreaterThan(100);

    // Within half the lifetime: no ledger call for the event.
    now += 20_000;
    expect(hooks.onResponseChunk!(ctx, text('a'))).toBeUndefined();
    expect(extends_).toEqual([]);
    // Past half of it: one renewal asking nothing more, and the event still answers synchronously.
    now += 15_000;
    expect(hooks.onResponseChunk!(ctx, text('b'))).toBeUndefined();
    expect(extends_).toEqual([0]);
    await new Promise((r) => setImmediate(r));
    // 75 s after the hold was taken (its first lifetime over), it still counts against the key.
    now += 40_000;
    hooks.onResponseChunk!(ctx, text('c'));
    await new Promise((r) => setImmediate(r));
    const stillHeld = 1000 - (await left());
    expect(stillHeld).toBe(held);
  } finally {
    clock.mockRestore();
  }
});
