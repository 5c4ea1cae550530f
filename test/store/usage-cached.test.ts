import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'pg';
import { openStore } from '../../src/store';
import { COLUMN_TYPES, MIGRATIONS, migrationStatements, SCHEMA_MIGRATIONS_DDL } from '../../src/store/migrations';
import { PostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { usage } from './store-suite';

/**
 * The `cached` flag of usage records (migration 5: answers of the response cache), in SQLite and,
 * with TEST_DATABASE_URL, PostgreSQL: stored and read back, and false for records written before.
 */

type WithGetUsage = Store & { getUsage(id: string): ReturnType<SqliteStore['getUsage']> };

async function roundTrip(store: Store): Promise<void> {
  const s = store as WithGetUsage;
  expect(await store.usage.insertBatch([usage({ id: 'hit', cached: true, costUsd: 0, totalTokens: 12 }), usage({ id: 'live', cached: false }), usage({ id: 'old' })])).toBe(3);
  expect(await s.getUsage('hit')).toMatchObject({ cached: true, totalTokens: 12, costUsd: 0 });
  // Absent on records of requests that went upstream, however they were written.
  expect((await s.getUsage('live'))?.cached).toBeUndefined();
  expect((await s.getUsage('old'))?.cached).toBeUndefined();
  // Tokens of hits count in the totals (budgets), at the cost they were recorded with.
  expect((await store.usage.query({})).map((r) => r.requests)).toEqual([3]);
}

describe('SQLite', () => {
  let dir: string;
  beforeEach(() => void (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cached-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the flag is stored and read back', async () => {
    const store = await openStore({ dataDir: dir });
    try {
      await roundTrip(store);
    } finally {
      await store.close();
    }
  });

  test('a version-4 database upgrades: its records are not cached', async () => {
    const raw = new Database(path.join(dir, 'gateway.db'));
    raw.exec(SCHEMA_MIGRATIONS_DDL(COLUMN_TYPES.sqlite));
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
      for (const sql of migrationStatements(m, 'sqlite')) raw.exec(sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    raw.exec(`INSERT INTO usage_records (id, request_id, time, endpoint, api, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
      total_tokens, cost_usd, duration_ms, status, streamed, outcome) VALUES ('v4', 'v4', 5, 'standard', 'chat.completions', 1, 2, 0, 0, 3, 0.5, 10, 200, 0, 'completed')`);
    raw.close();
    const store = (await openStore({ dataDir: dir })) as SqliteStore;
    try {
      expect(await store.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      const row = store.stmt("SELECT cached FROM usage_records WHERE id = 'v4'").get() as { cached: number };
      expect(row.cached).toBe(0);
      expect((await store.getUsage('v4'))?.cached).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

const url = process.env.TEST_DATABASE_URL;
(url ? describe : describe.skip)('PostgreSQL', () => {
  const admin = url ? new Pool({ connectionString: url, max: 1 }) : undefined;
  afterAll(() => admin?.end());

  test('the flag is a boolean column, stored and read back', async () => {
    const schema = `cached_test_${process.pid}_${crypto.randomBytes(6).toString('hex')}`;
    await admin!.query(`CREATE SCHEMA ${schema}`);
    const u = new URL(url!);
    u.searchParams.set('options', `-c search_path=${schema}`);
    const store = new PostgresStore(u.toString(), { maxConnections: 2 });
    try {
      await store.migrate();
      await roundTrip(store);
      const { rows } = await admin!.query(
        "SELECT data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'usage_records' AND column_name = 'cached'",
        [schema],
      );
      expect(rows).toEqual([{ data_type: 'boolean', is_nullable: 'NO', column_default: 'false' }]);
    } finally {
      await store.close();
      await admin!.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
