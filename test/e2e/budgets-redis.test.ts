import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chat, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { chunk, startFakeOpenAI, type FakeOpenAI, type Handler } from '../helpers/fake-openai';

/**
 * Budgets across replicas: two gateways (two Envoys, two processors) share one budget ledger in
 * Redis. Concurrent streams of one key never spend more than the budget plus one chunk each, a
 * restart undoes nothing, and a changed budget applies.
 */
const url = process.env.TEST_REDIS_URL;
const HOW = 'start one with: eval "$(bash scripts/test-redis.sh start)"';
const BUDGET = 300;
const KEY = 'sk-budget-shared';
const WORD = 'tok ';

interface UpstreamStream {
  written: number;
  cancelled: boolean;
  ended: boolean;
}

/** Streams one-token pieces until the gateway hangs up (or 3000 were sent), ignoring max_tokens. */
function longStream(seen: UpstreamStream[]): Handler {
  return async (req, res) => {
    const model = req.json.model;
    const s: UpstreamStream = { written: 0, cancelled: false, ended: false };
    seen.push(s);
    res.on('close', () => {
      if (!s.ended) s.cancelled = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(model, { role: 'assistant', content: '' }))}\n\n`);
    for (let i = 0; i < 3000 && !s.cancelled; i++) {
      res.write(`data: ${JSON.stringify(chunk(model, { content: WORD }))}\n\n`);
      s.written++;
      await new Promise((r) => setTimeout(r, 2));
    }
    if (s.cancelled) return;
    s.ended = true;
    res.end('data: [DONE]\n\n');
  };
}

function keyRecords(gws: RunningGateway[]): Record<string, any>[] {
  return gws.flatMap((gw) => {
    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
    try {
      return db.prepare("SELECT total_tokens, outcome, status FROM usage_records WHERE user_id = 'shared'").all() as Record<string, any>[];
    } finally {
      db.close();
    }
  });
}

async function stream(gw: RunningGateway): Promise<{ status: number; tokens: number; cut: boolean }> {
  const res = await chat(gw.url, { model: 'gpt-4o-mini', stream: true, max_tokens: 80, messages: [{ role: 'user', content: 'go' }] }, { authorization: `Bearer ${KEY}` });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, tokens: 0, cut: false };
  let tokens = 0;
  let cut = false;
  for (const ev of text.split('\n\n')) {
    if (!ev.startsWith('data: {')) continue;
    const json = JSON.parse(ev.slice(6));
    if (json.error) cut = json.error.code === 'insufficient_quota';
    else tokens += (json.choices?.[0]?.delta?.content ?? '').length / WORD.length;
  }
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  return { status: 200, tokens, cut };
}

if (!url) {
  if (process.env.CI === 'true') {
    describe('budgets with Redis', () => {
      test('TEST_REDIS_URL is set (required in CI)', () => {
        throw new Error(`TEST_REDIS_URL is not set: CI must run the shared budget tests; ${HOW}`);
      });
    });
  } else {
    console.warn(`test/e2e/budgets-redis.test.ts: skipped, TEST_REDIS_URL is not set (${HOW})`);
    describe.skip('budgets with Redis', () => {
      test('needs TEST_REDIS_URL', () => undefined);
    });
  }
} else {
  let fake: FakeOpenAI;
  const seen: UpstreamStream[] = [];
  // A prefix of its own per run: budgets spent by earlier runs in the shared Redis do not count.
  const prefix = `test-${process.pid}-${crypto.randomBytes(4).toString('hex')}:`;
  const config = (budget: number) => ({
    providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
    keys: { entries: { [KEY]: { name: 'shared', user: 'shared', token_budget: budget } } },
    budgets: { redis_url: url, redis_prefix: prefix },
    // Only the ledger decides: the quota plugin's check of each replica's recorded spend is off.
    plugins: testPlugins({ use: 'budgets' }).map((p) => (p.use === 'quota' ? { use: 'quota', options: { enabled: false, enforce_budgets: false } } : p)),
  });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    fake.handle(longStream(seen));
  });
  afterAll(() => fake?.close());

  test('five concurrent streams of one key on two replicas spend at most the budget plus one chunk each', async () => {
    const [a, b] = await Promise.all([startGateway({ config: config(BUDGET) }), startGateway({ config: config(BUDGET) })]);
    try {
      const results = await Promise.all(Array.from({ length: 5 }, (_v, i) => stream(i % 2 ? b : a)));
      const admitted = results.filter((r) => r.status === 200);
      // Each holds its worst case (prompt + 80) before going upstream: three fit whole, a fourth gets the rest.
      expect(admitted.length).toBeGreaterThanOrEqual(3);
      expect(results.filter((r) => r.status === 429)).toHaveLength(5 - admitted.length);
      expect(fake.requests).toHaveLength(admitted.length);
      // Every admitted stream outran its hold (the upstream ignores max_tokens) and was ended.
      expect(admitted.every((r) => r.cut)).toBe(true);
      const delivered = admitted.reduce((n, r) => n + r.tokens, 0);
      expect(delivered).toBeLessThanOrEqual(BUDGET);
      await waitFor(() => seen.length === admitted.length && seen.every((s) => s.cancelled), 5000);

      // What the records say was spent (prompt estimates included): the budget, plus at most one chunk per stream.
      const recs = (await waitFor(() => {
        const r = keyRecords([a, b]);
        return r.length === 5 ? r : undefined;
      }, 10000))!;
      const spent = recs.reduce((n, r) => n + r.total_tokens, 0);
      expect(spent).toBeGreaterThan(BUDGET - 5);
      expect(spent).toBeLessThanOrEqual(BUDGET + admitted.length);
      expect(recs.filter((r) => r.outcome === 'budget_exceeded')).toHaveLength(admitted.length);

      // Both replicas now refuse the key.
      for (const gw of [a, b]) expect((await stream(gw)).status).toBe(429);
      expect(a.logs().find((l) => l.msg === 'budget ledger')).toMatchObject({ backend: 'redis' });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }

    // A restart undoes nothing: the spend lives in Redis.
    const c = await startGateway({ config: config(BUDGET) });
    try {
      expect((await stream(c)).status).toBe(429);
    } finally {
      await c.stop();
    }
    // A raised budget applies at once, on top of what was spent.
    seen.length = 0;
    const d = await startGateway({ config: config(BUDGET + 100) });
    try {
      const r = await stream(d);
      expect(r).toMatchObject({ status: 200, cut: true });
      expect(r.tokens).toBeGreaterThan(50);
      expect(r.tokens).toBeLessThanOrEqual(100);
    } finally {
      await d.stop();
    }
  }, 120000);

  describe('Redis unreachable', () => {
    // A private Redis this test may pause, started with the same script as CI's.
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-budget-redis-'));
    const script = (cmd: string) => {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts/test-redis.sh'), cmd], { env: { ...process.env, REDIS_STATE_DIR: stateDir }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`test-redis.sh ${cmd} failed: ${r.stderr}`);
      return r.stdout;
    };
    let closed: RunningGateway;
    let open: RunningGateway;

    beforeAll(async () => {
      const privateUrl = /TEST_REDIS_URL=(\S+)/.exec(script('start'))![1];
      const withMode = (failure_mode: string) => ({
        ...config(100_000),
        budgets: { redis_url: privateUrl, redis_prefix: prefix, timeout_ms: 200 },
        plugins: testPlugins({ use: 'budgets', options: { failure_mode } }).map((p) => (p.use === 'quota' ? { use: 'quota', options: { enabled: false, enforce_budgets: false } } : p)),
      });
      [closed, open] = await Promise.all([startGateway({ config: withMode('fail_closed') }), startGateway({ config: withMode('fail_open') })]);
    }, 60000);
    afterAll(async () => {
      await Promise.all([closed?.stop(), open?.stop()]);
      script('stop');
      fs.rmSync(stateDir, { recursive: true, force: true });
    });

    test('fail_closed refuses budgeted requests with 503 budget_unavailable, fail_open admits them; both recover', async () => {
      const ask = (gw: RunningGateway) => chat(gw.url, { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${KEY}` });
      fake.handle(undefined);
      expect((await ask(closed)).status).toBe(200);
      expect((await ask(open)).status).toBe(200);
      script('pause');
      try {
        const refused = await ask(closed);
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('1');
        expect(((await refused.json()) as any).error).toMatchObject({ code: 'budget_unavailable', type: 'server_error' });
        expect((await ask(open)).status).toBe(200);
      } finally {
        script('resume');
      }
      await waitFor(async () => (await ask(closed)).status === 200, 10000, 200);
    }, 60000);
  });
}
