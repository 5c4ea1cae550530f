import crypto from 'node:crypto';
import { BudgetService, MemoryLedger, type SpendSource } from '../../src/budgets';
import { RedisLedger } from '../../src/budgets/redis';
import { DEFAULT_BUDGETS, type BudgetsConfig } from '../../src/budgets/config';
import type { LedgerBackend, LedgerEntry } from '../../src/budgets/ledger';
import type { BudgetAccount } from '../../src/plugins/api';

/**
 * The budget ledger's rules, on both backends (in-process, and Redis when TEST_REDIS_URL is set:
 * required under CI=true): holds are all or nothing, partial when less is left than asked, refused
 * below the minimum, extended, settled once, expired after their ttl; unknown accounts are seeded.
 */

const redisUrl = process.env.TEST_REDIS_URL;
const TTL = 60_000;
const e = (account: string, limit: number, amount: number, min = 0, seed?: number): LedgerEntry => ({ account, limit, amount, min, ...(seed === undefined ? {} : { seed }) });

function ledgerSuite(name: string, make: () => Promise<{ ledger: LedgerBackend; sleep?: (ms: number) => Promise<void>; advance?: (ms: number) => void }>) {
  describe(name, () => {
    let ledger: LedgerBackend;
    let advance: ((ms: number) => void) | undefined;
    let n = 0;
    // Fresh account names per test: a shared Redis keeps what earlier tests spent.
    const acct = (s: string) => `${s}-${++n}`;
    beforeEach(async () => {
      ({ ledger, advance } = await make());
    });
    afterEach(() => ledger.close());

    test('an unknown account is seeded first, from the caller', async () => {
      const a = acct('key:tokens:k');
      expect(await ledger.apply('reserve', 'h1', [e(a, 100, 10, 1)], TTL)).toEqual({ kind: 'seed', indexes: [0] });
      expect(await ledger.apply('reserve', 'h1', [e(a, 100, 10, 1, 95)], TTL)).toEqual({ kind: 'ok', granted: [5] });
      // Seeded once: a later seed changes nothing.
      expect(await ledger.apply('reserve', 'h2', [e(a, 100, 10, 0, 0)], TTL)).toEqual({ kind: 'ok', granted: [0] });
    });

    test('holds count against what is left; partial grants; refusals below the minimum, for every account at once', async () => {
      const [t, u] = [acct('key:tokens:k'), acct('team:usd:t')];
      await ledger.apply('settle', 'seed', [e(t, 0, 0, 0, 0), e(u, 0, 0, 0, 0)], TTL);
      expect(await ledger.apply('reserve', 'a', [e(t, 100, 60, 1), e(u, 1000, 100, 1)], TTL)).toEqual({ kind: 'ok', granted: [60, 100] });
      expect(await ledger.apply('reserve', 'b', [e(t, 100, 60, 1), e(u, 1000, 100, 1)], TTL)).toEqual({ kind: 'ok', granted: [40, 100] });
      // Nothing left of the first account: refused, and nothing held of the second.
      expect(await ledger.apply('reserve', 'c', [e(t, 100, 60, 1), e(u, 1000, 100, 1)], TTL)).toEqual({ kind: 'refused', index: 0, remaining: 0 });
      expect(await ledger.apply('reserve', 'd', [e(u, 1000, 800, 1)], TTL)).toEqual({ kind: 'ok', granted: [800] });
    });

    test('extend adds to a hold what is left; settle replaces the hold with the spend', async () => {
      const t = acct('key:tokens:k');
      await ledger.apply('reserve', 'a', [e(t, 100, 30, 1, 0)], TTL);
      await ledger.apply('reserve', 'b', [e(t, 100, 30, 1)], TTL);
      expect(await ledger.apply('extend', 'a', [e(t, 100, 25)], TTL)).toEqual({ kind: 'ok', granted: [25] });
      expect(await ledger.apply('extend', 'a', [e(t, 100, 25)], TTL)).toEqual({ kind: 'ok', granted: [15] });
      expect(await ledger.apply('extend', 'a', [e(t, 100, 25)], TTL)).toEqual({ kind: 'ok', granted: [0] });
      // a spent 72 of its 70: the 2 beyond its hold are spent all the same; b's hold is still held.
      await ledger.apply('settle', 'a', [e(t, 100, 72)], TTL);
      expect(await ledger.apply('reserve', 'c', [e(t, 100, 50, 1)], TTL)).toEqual({ kind: 'refused', index: 0, remaining: 0 });
      await ledger.apply('settle', 'b', [e(t, 100, 10)], TTL);
      expect(await ledger.apply('reserve', 'c', [e(t, 100, 50, 1)], TTL)).toEqual({ kind: 'ok', granted: [18] });
    });

    test('a raised limit applies to the next request; a lowered one below the spend refuses it', async () => {
      const t = acct('key:tokens:k');
      await ledger.apply('settle', 'a', [e(t, 100, 100, 0, 0)], TTL);
      expect((await ledger.apply('reserve', 'b', [e(t, 100, 10, 1)], TTL)).kind).toBe('refused');
      expect(await ledger.apply('reserve', 'b', [e(t, 150, 10, 1)], TTL)).toEqual({ kind: 'ok', granted: [10] });
      expect(await ledger.apply('reserve', 'c', [e(t, 50, 10, 1)], TTL)).toEqual({ kind: 'refused', index: 0, remaining: 0 });
    });

    test('a hold whose request never settled expires after its ttl', async () => {
      const t = acct('key:tokens:k');
      await ledger.apply('reserve', 'lost', [e(t, 100, 100, 1, 0)], advance ? TTL : 200);
      expect((await ledger.apply('reserve', 'b', [e(t, 100, 10, 1)], TTL)).kind).toBe('refused');
      if (advance) advance(TTL + 1);
      else await new Promise((r) => setTimeout(r, 250));
      expect(await ledger.apply('reserve', 'b', [e(t, 100, 10, 1)], TTL)).toEqual({ kind: 'ok', granted: [10] });
    });

    test('concurrent holds never take more than the limit', async () => {
      const t = acct('key:tokens:k');
      await ledger.apply('settle', 's', [e(t, 0, 0, 0, 0)], TTL);
      const all = await Promise.all(Array.from({ length: 20 }, (_v, i) => ledger.apply('reserve', `h${i}`, [e(t, 100, 15, 1)], TTL)));
      const granted = all.map((r) => (r.kind === 'ok' ? r.granted[0] : 0));
      expect(granted.reduce((a, b) => a + b, 0)).toBe(100);
      expect(all.filter((r) => r.kind === 'refused').length).toBe(13);
    });
  });
}

ledgerSuite('memory ledger', async () => {
  let now = 1_000_000;
  return { ledger: new MemoryLedger(() => now), advance: (ms) => (now += ms) };
});

if (redisUrl) {
  const prefix = `unit-${process.pid}-${crypto.randomBytes(4).toString('hex')}:`;
  ledgerSuite('Redis ledger', async () => {
    const ledger = new RedisLedger({ url: redisUrl, prefix, commandTimeoutMs: 2000 });
    await ledger.ready();
    return { ledger };
  });
} else if (process.env.CI === 'true') {
  test('TEST_REDIS_URL is set (required in CI)', () => {
    throw new Error('TEST_REDIS_URL is not set: CI must run the Redis ledger tests; start one with: eval "$(bash scripts/test-redis.sh start)"');
  });
}

describe('budget service', () => {
  const zero = { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0 };
  const config = (teams: BudgetsConfig['teams'] = {}): BudgetsConfig => ({ ...DEFAULT_BUDGETS, teams });
  const key = (unit: 'tokens' | 'usd', limit: number): BudgetAccount => ({ scope: 'key', id: 'k1', unit, limit });

  test('a new process seeds each account from the usage records once: a restart never undoes a spend', async () => {
    const asked: string[] = [];
    const spend: SpendSource = {
      forKey: async (id) => (asked.push(`key ${id}`), { ...zero, totalTokens: 90, costUsd: 0.25 }),
      forTeam: async (team) => (asked.push(`team ${team}`), { ...zero, totalTokens: 10 }),
    };
    const s = new BudgetService(config({ t: { tokens: 100 } }), new MemoryLedger(), spend);
    const r = await s.reserve('h', [
      { account: key('tokens', 100), want: 50, min: 5 },
      { account: key('usd', 0.5), want: 1, min: 0.01 },
      { account: { scope: 'team', id: 't', unit: 'tokens', limit: 100 }, want: 50, min: 5 },
    ]);
    expect(r).toEqual({ ok: true, granted: [10, 0.25, 50] });
    expect(asked.sort()).toEqual(['key k1', 'key k1', 'team t']);
    await s.reserve('h2', [{ account: key('tokens', 100), want: 1, min: 0 }]);
    expect(asked).toHaveLength(3);
  });

  test('dollars are exact to the micro-dollar; a refusal says which account and what is left', async () => {
    const s = new BudgetService(config(), new MemoryLedger(), { forKey: async () => zero, forTeam: async () => zero });
    expect(await s.reserve('a', [{ account: key('usd', 0.3), want: 0.1, min: 0.000001 }])).toEqual({ ok: true, granted: [0.1] });
    expect(await s.extend('a', [{ account: key('usd', 0.3), want: 0.25, min: 0 }])).toEqual([0.2]);
    expect(await s.reserve('b', [{ account: key('usd', 0.3), want: 0.1, min: 0.000001 }])).toEqual({ ok: false, account: key('usd', 0.3), remaining: 0 });
    await s.settle('a', [{ account: key('usd', 0.3), amount: 0.123456 }]);
    expect(await s.reserve('b', [{ account: key('usd', 0.3), want: 1, min: 0.000001 }])).toEqual({ ok: true, granted: [0.176544] });
  });

  test('team budgets are looked up as own entries only', () => {
    const s = new BudgetService(config({ research: { tokens: 5, usd: 1 }, ops: { usd: 2 } }), new MemoryLedger(), { forKey: async () => zero, forTeam: async () => zero });
    expect(s.teamBudget('research')).toEqual({ tokens: 5, usd: 1 });
    expect(s.teamBudget('ops')).toEqual({ tokens: null, usd: 2 });
    for (const name of ['__proto__', 'constructor', 'toString', 'nobody']) expect(s.teamBudget(name)).toBeUndefined();
  });
});
