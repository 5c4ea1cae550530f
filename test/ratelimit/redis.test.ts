import crypto from 'node:crypto';
import net from 'node:net';
import Redis from 'ioredis';
import { RedisCounters } from '../../src/ratelimit/redis';
import { describeCounters } from '../unit/counter-suite';

/**
 * The Redis counters against a real Redis at TEST_REDIS_URL (`eval "$(bash scripts/test-redis.sh
 * start)"` starts a throwaway server): the shared counter suite, replicas sharing counters, and
 * failing fast when Redis is gone.
 */
const url = process.env.TEST_REDIS_URL;
const HOW = 'start one with: eval "$(bash scripts/test-redis.sh start)"';

const open = async (prefix = `test:${process.pid}:${crypto.randomBytes(4).toString('hex')}:`) => {
  const c = new RedisCounters({ url: url!, prefix, commandTimeoutMs: 1000 });
  await c.ready();
  return c;
};

if (!url) {
  if (process.env.CI === 'true') {
    describe('Redis rate limit counters', () => {
      test('TEST_REDIS_URL is set (required in CI)', () => {
        throw new Error(`TEST_REDIS_URL is not set: CI must run the Redis rate limit tests; ${HOW}`);
      });
    });
  } else {
    console.warn(`test/ratelimit/redis.test.ts: skipped, TEST_REDIS_URL is not set (${HOW})`);
    describe.skip('Redis rate limit counters', () => {
      test('needs TEST_REDIS_URL', () => undefined);
    });
  }
} else {
  describeCounters('Redis', () => open());

  test('two replicas (two clients) share one limit under concurrency', async () => {
    const prefix = `test:${process.pid}:${crypto.randomBytes(4).toString('hex')}:`;
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      const op = { key: 'shared', hits: 1, limit: 40, windowMs: 60_000, mode: 'limit' as const };
      const results = await Promise.all(Array.from({ length: 100 }, (_v, i) => (i % 2 ? a : b).apply([op])));
      expect(results.filter((r) => !r.over)).toHaveLength(40);
      const charge = { key: 'tokens', hits: 7, limit: 1, windowMs: 60_000, mode: 'charge' as const };
      await Promise.all(Array.from({ length: 100 }, (_v, i) => (i % 2 ? a : b).apply([charge])));
      const check = await a.apply([{ ...charge, hits: 0, mode: 'check' }]);
      expect(check.counters[0].count).toBe(700);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a counter is one hash that expires one window after its last hit; checks alone store nothing', async () => {
    const prefix = `test:${process.pid}:${crypto.randomBytes(4).toString('hex')}:`;
    const c = await open(prefix);
    const raw = new Redis(url);
    try {
      await c.apply([{ key: 'unused', hits: 0, limit: 5, windowMs: 60_000, mode: 'check' }]);
      expect(await raw.keys(`${prefix}*`)).toEqual([]);
      await c.apply([{ key: 'used', hits: 1, limit: 5, windowMs: 60_000, mode: 'limit' }]);
      await new Promise((r) => setTimeout(r, 50));
      await c.apply([{ key: 'used', hits: 1, limit: 5, windowMs: 60_000, mode: 'limit' }]);
      const keys = await raw.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      expect(await raw.type(keys[0])).toBe('hash');
      // Renewed by the second hit: about one window (at most two after the window started).
      const ttl = await raw.pttl(keys[0]);
      expect(ttl).toBeGreaterThan(59_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      const h = await raw.hgetall(keys[0]);
      expect(Number(h.c)).toBe(2);
      expect(Number(h.cl) - Number(h.s)).toBeGreaterThanOrEqual(40);
    } finally {
      raw.disconnect();
      await c.close();
    }
  });

  test("the window runs on Redis's clock: replicas with skewed clocks agree on counts and resets", async () => {
    const prefix = `test:${process.pid}:${crypto.randomBytes(4).toString('hex')}:`;
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    const op = { key: 'skew', hits: 1, limit: 10, windowMs: 60_000, mode: 'limit' as const };
    const real = Date.now;
    try {
      const results = [];
      for (let i = 0; i < 12; i++) {
        // Replica b an hour ahead, then an hour behind: nothing the script sees.
        if (i % 2) Date.now = () => real() + (i % 4 === 1 ? 3_600_000 : -3_600_000);
        try {
          results.push(await (i % 2 ? b : a).apply([op]));
        } finally {
          Date.now = real;
        }
      }
      expect(results.map((r) => r.over)).toEqual([...Array(10).fill(false), true, true]);
      expect(results.map((r) => r.counters[0].count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]);
      const resets = results.map((r) => r.counters[0].resetMs);
      expect(Math.max(...resets) - Math.min(...resets)).toBeLessThan(1000);
      expect(Math.max(...resets)).toBeLessThanOrEqual(60_000);
    } finally {
      Date.now = real;
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('keys expire with their window (no persistence needed, nothing left behind)', async () => {
    const c = await open();
    try {
      await c.apply([{ key: 'short', hits: 1, limit: 5, windowMs: 100, mode: 'limit' }]);
      await new Promise((r) => setTimeout(r, 200));
      const r = await c.apply([{ key: 'short', hits: 0, limit: 5, windowMs: 100, mode: 'check' }]);
      expect(r.counters[0].count).toBe(0);
    } finally {
      await c.close();
    }
  });
}

// Needs no server: a port nobody listens on.
test('an unreachable Redis fails calls fast instead of queueing them', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const c = new RedisCounters({ url: `redis://127.0.0.1:${port}`, prefix: 'x:', commandTimeoutMs: 200 });
  try {
    const started = Date.now();
    await expect(c.apply([{ key: 'k', hits: 1, limit: 1, windowMs: 1000, mode: 'limit' }])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(250);
  } finally {
    await c.close();
  }
});
