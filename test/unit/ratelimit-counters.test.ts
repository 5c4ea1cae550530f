import { MemoryCounters, type CounterOp } from '../../src/ratelimit/counters';
import { describeCounters } from './counter-suite';

describeCounters('in-process', async () => new MemoryCounters());

test('in-process counters with nothing left in their sliding window are swept', async () => {
  let now = 1_000_000;
  const counters = new MemoryCounters(() => now);
  await counters.apply([{ key: 'a', hits: 1, limit: 5, windowMs: 1000, mode: 'limit' }]);
  await counters.apply([{ key: 'b', hits: 1, limit: 5, windowMs: 5000, mode: 'limit' }]);
  expect(counters.size).toBe(2);
  now += 2000;
  counters.sweep();
  expect(counters.size).toBe(1);
  await counters.close();
});

/** Sliding windows on an injected clock: exact times, no waiting. */
describe('sliding windows (in-process, injected clock)', () => {
  const W = 60_000;
  let now: number;
  let counters: MemoryCounters;
  beforeEach(() => {
    now = 1_700_000_000_000;
    counters = new MemoryCounters(() => now);
  });
  afterEach(() => counters.close());
  const req = (limit: number, hits = 1, key = 'k'): CounterOp => ({ key, hits, limit, windowMs: W, mode: 'limit' });

  test('a burst straddling a window boundary passes at most 1.1× the limit (a fixed window lets 2× through)', async () => {
    const L = 100;
    const start = now;
    expect((await counters.apply([req(L)])).over).toBe(false); // the window starts here
    // A burst of 6 s (a tenth of the window) centred on the boundary, a request every 10 ms.
    let passed = 0;
    for (now = start + W - 3000; now < start + W + 3000; now += 10) if (!(await counters.apply([req(L)])).over) passed++;
    expect(passed).toBeGreaterThanOrEqual(L - 1); // the window was filled before the boundary...
    expect(passed).toBeLessThanOrEqual(1.1 * L); // ...and barely more passed after it
  });

  test('the classic attack: the limit at the end of a window, then the limit just after the boundary', async () => {
    const L = 100;
    const start = now;
    await counters.apply([req(L)]);
    now = start + W - 1;
    const before = await Promise.all(Array.from({ length: L }, () => counters.apply([req(L)])));
    expect(before.filter((r) => !r.over)).toHaveLength(L - 1);
    now = start + W + 1;
    const after = await Promise.all(Array.from({ length: L }, () => counters.apply([req(L)])));
    expect(after.filter((r) => !r.over)).toHaveLength(0);
    // The refused are told the real wait: one request more once enough has slid out, well
    // before the hits at the window's end leave the sliding window.
    const wait = after[0].counters[0].resetMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThan(W);
    now += wait - 1;
    expect((await counters.apply([req(L)])).over).toBe(true);
    now += 1;
    expect((await counters.apply([req(L)])).over).toBe(false);
  });

  test('a limit spent at once is available again exactly one window later, not two', async () => {
    const start = now;
    for (let i = 0; i < 10; i++) expect((await counters.apply([req(10)])).over).toBe(false);
    const refused = await counters.apply([req(10)]);
    expect(refused).toMatchObject({ over: true, counters: [{ count: 10, resetMs: W }] });
    now = start + W - 1;
    expect((await counters.apply([req(10)])).over).toBe(true);
    now = start + W;
    const r = await counters.apply([req(10)]);
    expect(r).toMatchObject({ over: false, counters: [{ count: 1 }] });
  });

  test('requests spread over a window slide out gradually: the count is the weighted estimate', async () => {
    const start = now;
    // 10 requests, one every 6 s from 0 to 54 s.
    for (let i = 0; i < 10; i++) {
      now = start + i * 6000;
      expect((await counters.apply([req(10)])).over).toBe(false);
    }
    // 30 s into the next window: the previous window's 10 hits span 54 s, 24 s of it is still in
    // the sliding window: ceil(10 × 24 / 54) = 5 (an exact sliding window counts 4).
    now = start + W + 30_000;
    const check: CounterOp = { key: 'k', hits: 0, limit: 10, windowMs: W, mode: 'check' };
    expect((await counters.apply([check])).counters[0].count).toBe(5);
    // Two windows after the last hit nothing is left.
    now = start + 54_000 + W;
    expect((await counters.apply([check])).counters[0]).toEqual({ count: 0, resetMs: W });
  });

  test('token checks and charges slide the same way', async () => {
    const check: CounterOp = { key: 't', hits: 0, limit: 1000, windowMs: W, mode: 'check' };
    const charge = (hits: number): CounterOp => ({ ...check, hits, mode: 'charge' });
    const start = now;
    await counters.apply([charge(600)]);
    now = start + 30_000;
    await counters.apply([charge(600)]);
    const refused = await counters.apply([check]);
    expect(refused.over).toBe(true);
    expect(refused.counters[0].count).toBe(1200);
    // Next window, the 1200 tokens are taken as spread over the 30 s they span: the check passes
    // once 1200 × (time left of the span) / 30 s <= 999, 5.025 s into the window.
    expect(refused.counters[0].resetMs).toBe(W - 30_000 + 5025);
    now = start + W + 5024;
    expect((await counters.apply([check])).over).toBe(true);
    now = start + W + 5025;
    const r = await counters.apply([check]);
    expect(r.over).toBe(false);
    expect(r.counters[0].count).toBe(999);
    // And a charge into the new window adds to the slid estimate.
    expect((await counters.apply([charge(50)])).counters[0].count).toBe(1049);
  });

  test('retry-after is honest and never more than a window: random traffic, probed one ms early and on time', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const L of [1, 3, 10, 57]) {
      const key = `r${L}`;
      for (let i = 0; i < 3000; i++) {
        now += rand() < 0.2 ? Math.floor(rand() * W) : Math.floor(rand() * 50);
        const hits = rand() < 0.8 ? 1 : 2;
        const r = await counters.apply([req(L, hits, key)]);
        const { count, resetMs } = r.counters[0];
        expect(r.over).toBe(count - (r.over ? 0 : hits) + hits > L);
        if (!r.over || hits > L) continue;
        expect(resetMs).toBeGreaterThan(0);
        expect(resetMs).toBeLessThanOrEqual(W);
        // The same request, a millisecond before the announced time, then on time.
        now += resetMs - 1;
        expect((await counters.apply([req(L, hits, key)])).over).toBe(true);
        now += 1;
        expect((await counters.apply([req(L, hits, key)])).over).toBe(false);
      }
    }
  });

  test('the error bound holds: any interval of D <= one window admits at most limit × (1 + D / window)', async () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const L = 20;
    const admitted: number[] = [];
    // Bursts and pauses of every size, including adversarial ones at windows' ends.
    for (let i = 0; i < 20_000; i++) {
      const x = rand();
      now += x < 0.6 ? 0 : x < 0.9 ? Math.floor(rand() * 200) : Math.floor(rand() * W);
      if (!(await counters.apply([req(L)])).over) admitted.push(now);
    }
    for (const share of [0.01, 0.1, 0.5, 1]) {
      const D = share * W;
      let most = 0;
      for (let i = 0, j = 0; i < admitted.length; i++) {
        while (admitted[j] <= admitted[i] - D) j++;
        most = Math.max(most, i - j + 1);
      }
      expect({ share, most: most <= L * (1 + share) }).toEqual({ share, most: true });
    }
  });
});
