import pino from 'pino';
import type { UsageRecord, UsageStore } from '../../src/store/types';
import { UsageWriter } from '../../src/usage/writer';
import { Pricing } from '../../src/usage/pricing';

const log = pino({ level: 'silent' });

function rec(i: number): UsageRecord {
  return {
    id: `r${i}`, requestId: null, time: i, keyId: null, user: null, team: null, tier: null, endpoint: 'standard', api: 'chat.completions',
    provider: 'p', modelRequested: 'm', modelServed: 'm', promptTokens: 1, completionTokens: 1, cachedTokens: 0, reasoningTokens: 0,
    totalTokens: 2, costUsd: 0, durationMs: 1, ttftMs: null, status: 200, streamed: false, outcome: 'completed',
  };
}

function fakeStore(opts: { failTimes?: number; delayMs?: number } = {}) {
  const written: string[] = [];
  let failures = opts.failTimes ?? 0;
  const store = {
    async insertBatch(records: UsageRecord[]) {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (failures > 0) {
        failures--;
        throw new Error('database down');
      }
      let n = 0;
      for (const r of records) if (!written.includes(r.id)) (written.push(r.id), n++);
      return n;
    },
  } as unknown as UsageStore;
  return { store, written };
}

function counters() {
  const c = { queued: 0, written: 0, retried: 0, dropped: 0, depth: 0 };
  return {
    c,
    events: {
      queued: (n: number) => (c.queued += n),
      written: (n: number) => (c.written += n),
      retried: (n: number) => (c.retried += n),
      dropped: (n: number) => (c.dropped += n),
      depth: (n: number) => (c.depth = n),
    },
  };
}

describe('UsageWriter', () => {
  test('enqueue returns at once even when the database is slow; close flushes everything', async () => {
    const { store, written } = fakeStore({ delayMs: 200 });
    const { c, events } = counters();
    const w = new UsageWriter(store, { maxQueue: 1000, batchSize: 50, flushIntervalMs: 10, maxBackoffMs: 100 }, events, log);
    const t0 = performance.now();
    for (let i = 0; i < 120; i++) w.enqueue(rec(i));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(await w.close()).toBe(0);
    expect(written).toHaveLength(120);
    expect(c).toMatchObject({ queued: 120, written: 120, dropped: 0, depth: 0 });
  });

  test('a failing database is retried with backoff and nothing is lost', async () => {
    const { store, written } = fakeStore({ failTimes: 3 });
    const { c, events } = counters();
    const w = new UsageWriter(store, { maxQueue: 1000, batchSize: 10, flushIntervalMs: 5, maxBackoffMs: 50 }, events, log);
    for (let i = 0; i < 25; i++) w.enqueue(rec(i));
    await new Promise((r) => setTimeout(r, 400));
    expect(written).toHaveLength(25);
    expect(c.retried).toBeGreaterThan(0);
    expect(await w.close()).toBe(0);
  });

  test('past max_queue new records are dropped and counted, never blocking', async () => {
    const { store } = fakeStore({ failTimes: 1000 });
    const { c, events } = counters();
    const w = new UsageWriter(store, { maxQueue: 10, batchSize: 5, flushIntervalMs: 1000, maxBackoffMs: 1000 }, events, log);
    for (let i = 0; i < 15; i++) w.enqueue(rec(i));
    expect(w.depth).toBe(10);
    expect(c.dropped).toBe(5);
    expect(await w.close(100)).toBe(10);
    expect(c.dropped).toBe(15);
  });
});

describe('Pricing', () => {
  const p = new Pricing({
    models: { 'gpt-4o': { input: 2.5, output: 10, cached_input: 1.25 }, 'gpt-4o*': { input: 5, output: 20 }, 'claude-*': { input: 3, output: 15 } },
    tier_multipliers: { langchain: 1.5 },
  });
  test.each([
    ['exact price, cached tokens at their own rate', 'gpt-4o', { promptTokens: 1000, completionTokens: 100, totalTokens: 1100, cachedTokens: 400 }, undefined, (600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6],
    ['pattern price', 'gpt-4o-mini', { promptTokens: 1000, completionTokens: 0, totalTokens: 1000 }, undefined, (1000 * 5) / 1e6],
    ['tier multiplier', 'claude-3', { promptTokens: 100, completionTokens: 100, totalTokens: 200 }, 'langchain', ((100 * 3 + 100 * 15) / 1e6) * 1.5],
    ['tier without multiplier', 'claude-3', { promptTokens: 100, completionTokens: 100, totalTokens: 200 }, 'standard', (100 * 3 + 100 * 15) / 1e6],
  ])('%s', (_n, model, usage, tier, expected) => {
    expect(p.cost(model, usage, tier)).toBeCloseTo(expected, 10);
  });
  test('an unpriced model has no cost', () => {
    expect(p.cost('mystery', { promptTokens: 1, completionTokens: 1, totalTokens: 2 })).toBeUndefined();
  });
});
