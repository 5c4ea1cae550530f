import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { chat, CLIENT_KEY, ROOT, startGateway, waitFor, type RunningGateway } from '../helpers/gateway';

/**
 * A down database never fails a request: known keys keep working from the cache, usage records
 * wait in the writer's queue (counted as retried), and land once the database is back.
 * Runs its own PostgreSQL server (scripts/test-postgres.sh with a private state folder), which
 * it stops and restarts.
 */

const SCRIPT = path.join(ROOT, 'scripts/test-postgres.sh');
const canRun = fs.readdirSync('/usr/lib/postgresql', { withFileTypes: true }).length > 0 || process.env.CI === 'true';

(canRun ? describe : describe.skip)('PostgreSQL outage', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-pg-outage-'));
  const pg = (cmd: string) => execFileSync('bash', [SCRIPT, cmd], { env: { ...process.env, PG_STATE_DIR: stateDir }, encoding: 'utf8' });
  let url: string;
  let gw: RunningGateway;

  beforeAll(async () => {
    url = /TEST_DATABASE_URL=(\S+)/.exec(pg('start'))![1];
    gw = await startGateway({
      env: { DATABASE_URL: url },
      config: { keys: { entries: { [CLIENT_KEY]: { name: 'outage' } }, cache_ttl_ms: 100 }, usage: { flush_interval_ms: 50 } },
    });
  }, 90000);

  afterAll(async () => {
    await gw?.stop();
    pg('stop');
  });

  const echo = (i: number) => chat(gw.url, { model: 'echo', messages: [{ role: 'user', content: `n${i}` }] }, { 'x-request-id': `outage-${i}` });

  test('requests keep flowing while the database is down, and their usage is written when it is back', async () => {
    for (let i = 0; i < 5; i++) expect((await echo(i)).status).toBe(200);
    pg('pause');
    try {
      await new Promise((r) => setTimeout(r, 300)); // past the key cache's TTL: lookups now hit the dead database
      for (let i = 5; i < 25; i++) expect((await echo(i)).status).toBe(200);
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${gw.url}/metrics`)).text();
        return /gateway_usage_records_total\{result="retried"\} [1-9]/.test(text) ? text : undefined;
      });
      expect(metrics).toMatch(/gateway_usage_queue_depth [1-9]/);
      // An unknown key cannot be checked during the outage: that is a 503, not a 401.
      const unknown = await chat(gw.url, { model: 'echo', messages: [] }, { authorization: 'Bearer sk-never-seen-before' });
      expect(unknown.status).toBe(503);
      expect((await unknown.json()).error.code).toBe('key_store_unavailable');
    } finally {
      pg('resume');
    }
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      const count = await waitFor(async () => {
        const n = Number((await c.query("SELECT count(*) AS n FROM usage_records WHERE request_id LIKE 'outage-%'")).rows[0].n);
        return n === 25 ? n : undefined;
      }, 20000, 200);
      expect(count).toBe(25);
    } finally {
      await c.end();
    }
  }, 90000);
});
