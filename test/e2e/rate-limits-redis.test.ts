import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chat, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * Rate limits shared through a real Redis: two gateway replicas (two Envoys, two processors)
 * enforcing one limit, and the failure modes when Redis goes away mid-test.
 */
const url = process.env.TEST_REDIS_URL;
const HOW = 'start one with: eval "$(bash scripts/test-redis.sh start)"';

const provider = (fake: FakeOpenAI) => ({ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] });
const ask = (gw: RunningGateway) => chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
/** A domain of its own per run: counters of earlier runs in the shared Redis do not interfere. */
const domain = () => `test-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

async function metric(gw: RunningGateway, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await (await fetch(`${gw.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

if (!url) {
  if (process.env.CI === 'true') {
    describe('rate limits with Redis', () => {
      test('TEST_REDIS_URL is set (required in CI)', () => {
        throw new Error(`TEST_REDIS_URL is not set: CI must run the shared rate limit tests; ${HOW}`);
      });
    });
  } else {
    console.warn(`test/e2e/rate-limits-redis.test.ts: skipped, TEST_REDIS_URL is not set (${HOW})`);
    describe.skip('rate limits with Redis', () => {
      test('needs TEST_REDIS_URL', () => undefined);
    });
  }
} else {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(() => fake?.close());

  test('two replicas sharing one Redis enforce one limit: 10 per minute across alternating requests', async () => {
    const config = {
      providers: [provider(fake)],
      plugins: testPlugins({ use: 'rate-limit-descriptors' }),
      rate_limits: { domain: domain(), redis_url: url, rules: [{ name: 'shared', match: { key: '*' }, requests_per_minute: 10 }] },
    };
    const [a, b] = await Promise.all([startGateway({ config }), startGateway({ config })]);
    try {
      const statuses: number[] = [];
      const byReplica: Record<string, number[]> = { a: [], b: [] };
      for (let i = 0; i < 25; i++) {
        const gw = i % 2 === 0 ? a : b;
        const r = await ask(gw);
        await r.text();
        statuses.push(r.status);
        byReplica[i % 2 === 0 ? 'a' : 'b'].push(r.status);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(15);
      // Both replicas served some and refused some: the counter is the same one.
      expect(byReplica.a.filter((s) => s === 200)).toHaveLength(5);
      expect(byReplica.b.filter((s) => s === 200)).toHaveLength(5);
      // And concurrently, from both at once, nothing more gets through.
      const more = await Promise.all(Array.from({ length: 10 }, (_v, i) => ask(i % 2 ? a : b)));
      expect(more.map((r) => r.status)).toEqual(Array(10).fill(429));
      expect(a.logs().find((l) => l.msg === 'rate limiting')).toMatchObject({ backend: 'redis' });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  describe('Redis stopped mid-test', () => {
    // A private Redis this test may stop, started with the same script as CI's.
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-redis-state-'));
    const script = (cmd: string) => {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts/test-redis.sh'), cmd], { env: { ...process.env, REDIS_STATE_DIR: stateDir }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`test-redis.sh ${cmd} failed: ${r.stderr}`);
      return r.stdout;
    };
    let privateUrl: string;
    let open: RunningGateway;
    let closed: RunningGateway;

    beforeAll(async () => {
      privateUrl = /TEST_REDIS_URL=(\S+)/.exec(script('start'))![1];
      const config = (failure_mode: string) => ({
        providers: [provider(fake)],
        plugins: testPlugins({ use: 'rate-limit-descriptors' }),
        rate_limits: { domain: domain(), redis_url: privateUrl, failure_mode, rules: [{ name: 'roomy', match: { key: '*' }, requests_per_minute: 1000 }] },
      });
      [open, closed] = await Promise.all([startGateway({ config: config('fail_open') }), startGateway({ config: config('fail_closed') })]);
    });
    afterAll(async () => {
      await Promise.all([open?.stop(), closed?.stop()]);
      script('stop');
      fs.rmSync(stateDir, { recursive: true, force: true });
    });

    test('fail_open keeps requests flowing, fail_closed refuses them, and the metric counts it', async () => {
      expect((await ask(open)).status).toBe(200);
      expect((await ask(closed)).status).toBe(200);

      script('pause');
      const errors = /gateway_ratelimit_backend_errors_total\{backend="redis"\} (\d+)/;
      const openStatuses: number[] = [];
      for (let i = 0; i < 5; i++) openStatuses.push((await ask(open)).status);
      expect(openStatuses).toEqual([200, 200, 200, 200, 200]);
      expect(await metric(open, errors)).toBeGreaterThanOrEqual(5);

      const refused = await Promise.all(Array.from({ length: 5 }, () => ask(closed)));
      for (const r of refused) {
        expect(r.status).toBe(503);
        expect(r.headers.get('retry-after')).toBe('1');
        expect((await r.json()).error).toMatchObject({ code: 'rate_limit_unavailable', type: 'server_error' });
      }
      expect(await metric(closed, errors)).toBeGreaterThanOrEqual(5);
      const stats = await (await fetch(`http://127.0.0.1:${closed.ports.envoyAdmin}/stats?filter=ratelimit`)).text();
      expect(stats).toMatch(/cluster\.provider_openai\.ratelimit\.error: [1-9]/);

      // Redis back: the replicas reconnect by themselves and count again.
      script('resume');
      await waitFor(async () => (await ask(closed)).status === 200, 10000, 200);
      expect((await ask(open)).status).toBe(200);
    });
  });
}
