import crypto from 'node:crypto';
import net from 'node:net';
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
