import crypto from 'node:crypto';
import type { CounterBackend, CounterOp } from '../../src/ratelimit/counters';

/**
 * The behaviour every counter backend must have (in-process and Redis): the same table of
 * cases against each. Keys are unique per test, so a shared Redis needs no cleanup.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

type Step = { ops: Omit<CounterOp, 'key'>[]; over: boolean; counts: number[] };

const op = (mode: CounterOp['mode'], hits: number, limit: number, windowMs = 60_000): Omit<CounterOp, 'key'> => ({ mode, hits, limit, windowMs });

/** Each case: calls in order; ops at the same position share a counter across calls. */
const CASES: [string, Step[]][] = [
  [
    'a request limit of 3: three pass, the fourth is refused and not counted',
    [
      { ops: [op('limit', 1, 3)], over: false, counts: [1] },
      { ops: [op('limit', 1, 3)], over: false, counts: [2] },
      { ops: [op('limit', 1, 3)], over: false, counts: [3] },
      { ops: [op('limit', 1, 3)], over: true, counts: [3] },
    ],
  ],
  [
    'hits larger than 1 must fit entirely',
    [
      { ops: [op('limit', 2, 3)], over: false, counts: [2] },
      { ops: [op('limit', 2, 3)], over: true, counts: [2] },
      { ops: [op('limit', 1, 3)], over: false, counts: [3] },
    ],
  ],
  [
    'a limit of 0 refuses everything',
    [{ ops: [op('limit', 1, 0)], over: true, counts: [0] }],
  ],
  [
    'token check and charge: checks pass until the charges reach the limit, charges always count',
    [
      { ops: [op('check', 0, 1000)], over: false, counts: [0] },
      { ops: [op('charge', 400, 1000)], over: false, counts: [400] },
      { ops: [op('check', 0, 1000)], over: false, counts: [400] },
      { ops: [op('charge', 400, 1000)], over: false, counts: [800] },
      { ops: [op('charge', 400, 1000)], over: false, counts: [1200] },
      { ops: [op('check', 0, 1000)], over: true, counts: [1200] },
      { ops: [op('charge', 5, 1000)], over: false, counts: [1205] },
    ],
  ],
  [
    'all or nothing: when one limit refuses, the others are not counted',
    [
      { ops: [op('limit', 1, 10), op('limit', 1, 1)], over: false, counts: [1, 1] },
      { ops: [op('limit', 1, 10), op('limit', 1, 1)], over: true, counts: [1, 1] },
      { ops: [op('limit', 1, 10), op('limit', 1, 1)], over: true, counts: [1, 1] },
    ],
  ],
  [
    'a token counter past its limit refuses the request limits it is checked with',
    [
      { ops: [op('limit', 1, 10), op('charge', 50, 10)], over: false, counts: [1, 50] },
      { ops: [op('limit', 1, 10), op('check', 0, 10)], over: true, counts: [1, 50] },
    ],
  ],
  [
    'charges count even in a refused call',
    [
      { ops: [op('limit', 1, 0), op('charge', 7, 100)], over: true, counts: [0, 7] },
    ],
  ],
];

export function describeCounters(name: string, open: () => Promise<CounterBackend>): void {
  describe(`${name} counters`, () => {
    let backend: CounterBackend;
    beforeAll(async () => {
      backend = await open();
    });
    afterAll(() => backend?.close());
    const fresh = () => `t:${crypto.randomBytes(6).toString('hex')}`;

    test.each(CASES)('%s', async (_name, steps) => {
      const keys = steps[0].ops.map(() => fresh());
      for (const [i, step] of steps.entries()) {
        const r = await backend.apply(step.ops.map((o, j) => ({ ...o, key: keys[j] })));
        expect({ step: i, over: r.over, counts: r.counters.map((c) => c.count) }).toEqual({ step: i, over: step.over, counts: step.counts });
      }
    });

    test('the window starts with the first hit and its reset counts down', async () => {
      const key = fresh();
      const a = await backend.apply([{ key, ...op('limit', 1, 5, 60_000) }]);
      expect(a.counters[0].resetMs).toBeGreaterThan(59_000);
      expect(a.counters[0].resetMs).toBeLessThanOrEqual(60_000);
      await new Promise((r) => setTimeout(r, 120));
      const b = await backend.apply([{ key, ...op('limit', 1, 5, 60_000) }]);
      expect(b.counters[0].resetMs).toBeLessThanOrEqual(a.counters[0].resetMs - 100);
    });

    test('a check on an unused counter starts no window', async () => {
      const key = fresh();
      const r = await backend.apply([{ key, ...op('check', 0, 5, 1000) }]);
      expect(r.counters[0]).toEqual({ count: 0, resetMs: 1000 });
    });

    test('a counter starts again from zero once its window has passed', async () => {
      const key = fresh();
      expect((await backend.apply([{ key, ...op('limit', 1, 1, 150) }])).over).toBe(false);
      expect((await backend.apply([{ key, ...op('limit', 1, 1, 150) }])).over).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
      const r = await backend.apply([{ key, ...op('limit', 1, 1, 150) }]);
      expect(r.over).toBe(false);
      expect(r.counters[0].count).toBe(1);
    });

    test('a burst straddling a window boundary passes at most 1.1× the limit (sliding, not fixed, windows)', async () => {
      // On the backend's own clock (Redis: the server's), so real time: a 2 s window and a burst
      // of a tenth of it, 100 ms either side of the boundary. A fixed window would pass 2×.
      const key = fresh();
      const L = 100;
      const W = 2000;
      const first = await backend.apply([{ key, ...op('limit', 1, L, W) }]);
      const boundary = Date.now() + first.counters[0].resetMs;
      await sleep(boundary - 100 - Date.now());
      let passed = 0;
      let calls = 0;
      while (Date.now() < boundary + 100) {
        const batch = await Promise.all(Array.from({ length: 5 }, () => backend.apply([{ key, ...op('limit', 1, L, W) }])));
        passed += batch.filter((r) => !r.over).length;
        calls += 5;
      }
      expect(calls).toBeGreaterThan(2 * L); // the burst did go on after the boundary
      expect(passed).toBeGreaterThanOrEqual(L - 1); // the window was filled before it
      expect(passed).toBeLessThanOrEqual(1.1 * L);
    });

    test('a refused call is told when to come back, at most a window after the last hit', async () => {
      const key = fresh();
      const W = 1000;
      // Three requests spread over half the window, the fourth refused.
      for (let i = 0; i < 3; i++) {
        expect((await backend.apply([{ key, ...op('limit', 1, 3, W) }])).over).toBe(false);
        if (i < 2) await sleep(250);
      }
      const refused = await backend.apply([{ key, ...op('limit', 1, 3, W) }]);
      expect(refused.over).toBe(true);
      const wait = refused.counters[0].resetMs;
      // Next window, the 3 hits spread over ~500 ms must weigh <= 2: ~167 ms into it.
      expect(wait).toBeGreaterThan(W - 500);
      expect(wait).toBeLessThanOrEqual(W);
      const back = Date.now() + wait;
      await sleep(back - 100 - Date.now());
      expect((await backend.apply([{ key, ...op('limit', 1, 3, W) }])).over).toBe(true);
      await sleep(back + 20 - Date.now());
      const r = await backend.apply([{ key, ...op('limit', 1, 3, W) }]);
      expect(r.over).toBe(false);
      expect(r.counters[0].count).toBeGreaterThanOrEqual(2); // this one, and the previous window still partly counted
    });

    test('concurrent calls never lose an increment nor share the last unit', async () => {
      const key = fresh();
      const results = await Promise.all(Array.from({ length: 60 }, () => backend.apply([{ key, ...op('limit', 1, 25) }])));
      expect(results.filter((r) => !r.over)).toHaveLength(25);
      const charges = await Promise.all(Array.from({ length: 50 }, () => backend.apply([{ key: `${key}:t`, ...op('charge', 3, 1) }])));
      expect(Math.max(...charges.map((r) => r.counters[0].count))).toBe(150);
    });
  });
}
