import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store';
import { COLUMN_TYPES, MIGRATIONS, migrationStatements, SCHEMA_MIGRATIONS_DDL } from '../../src/store/migrations';
import { SqliteStore } from '../../src/store/sqlite';
import { audit, describeStore, key, usage } from './store-suite';

/** Each database is a file in its own temporary folder, removed afterwards. */
describeStore('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-store-'));
  const file = path.join(dir, 'gateway.db');
  return {
    open: async () => new SqliteStore(file),
    drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

/**
 * The built store writes usage on its thread (the thread's script is compiled JavaScript: from
 * the sources, as in the suite above, inserts run on the main thread). `npm test` builds first.
 */
const BUILT_SQLITE = path.join(__dirname, '../../dist/src/store/sqlite.js');
function builtStore(): typeof SqliteStore {
  if (!fs.existsSync(BUILT_SQLITE)) throw new Error(`${BUILT_SQLITE} is missing: run npm run build`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(BUILT_SQLITE).SqliteStore as typeof SqliteStore;
}

describe('usage writer thread', () => {
  test('built, a file store writes usage on its thread, readable at once from the main connection; sources and :memory: write in place', async () => {
    const Built = builtStore();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-thread-'));
    const store = new Built(path.join(dir, 'gateway.db'));
    try {
      await store.migrate();
      const batch = Array.from({ length: 300 }, (_, i) => usage({ id: `t${i}` }));
      expect(await store.usage.insertBatch(batch)).toBe(300);
      expect(store.usageWriter()).toBeDefined();
      // Idempotent on the id there too, and visible to the main thread's reads right away.
      expect(await store.usage.insertBatch(batch.slice(0, 10))).toBe(0);
      expect(await store.usage.count()).toBe(300);
      expect(await store.getUsage('t7')).toEqual(batch[7]);
      // A second process's connection (a processor worker's) writing at the same time.
      const other = new Built(path.join(dir, 'gateway.db'));
      try {
        const [a, b] = await Promise.all([
          store.usage.insertBatch(Array.from({ length: 200 }, (_, i) => usage({ id: `a${i}` }))),
          other.usage.insertBatch(Array.from({ length: 200 }, (_, i) => usage({ id: `b${i}` }))),
        ]);
        expect([a, b]).toEqual([200, 200]);
        expect(await store.usage.count()).toBe(700);
      } finally {
        await other.close();
      }
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(new Built(':memory:').usageWriter()).toBeUndefined();
    expect(new SqliteStore(':memory:').usageWriter()).toBeUndefined();
  });
});

describe('openStore (SQLite)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-open-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('creates <dataDir>/gateway.db (and the folder), in WAL mode; data survives reopening', async () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const store = await openStore({ dataDir });
    expect(store.kind).toBe('sqlite');
    const file = path.join(dataDir, 'gateway.db');
    expect(fs.existsSync(file)).toBe(true);
    await store.keys.insert(key());
    expect(await store.usage.insertBatch([usage({ id: 'x1', streamed: true })])).toBe(1);
    await store.close();

    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: MIGRATIONS.length });
    } finally {
      raw.close();
    }

    const reopened = await openStore({ dataDir, databaseUrl: '' });
    try {
      expect(await reopened.keys.getById('key_1')).toEqual(key());
      expect(await reopened.usage.count()).toBe(1);
      expect(await (reopened as SqliteStore).getUsage('x1')).toEqual(usage({ id: 'x1', streamed: true }));
      expect(await (reopened as SqliteStore).appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await reopened.close();
    }
  });

  test('a version-3 database upgrades: its usage rows keep their key as id and as request_id', async () => {
    const raw = new Database(path.join(dir, 'gateway.db'));
    raw.exec(SCHEMA_MIGRATIONS_DDL(COLUMN_TYPES.sqlite));
    for (const m of MIGRATIONS.filter((x) => x.version <= 3)) {
      for (const sql of migrationStatements(m, 'sqlite')) raw.exec(sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    raw.exec(`INSERT INTO usage_records (request_id, time, endpoint, api, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
      total_tokens, cost_usd, duration_ms, status, streamed) VALUES ('old-1', 5, 'standard', 'chat.completions', 1, 2, 0, 0, 3, 0.5, 10, 200, 0)`);
    raw.close();

    const store = await openStore({ dataDir: dir });
    try {
      expect(await (store as SqliteStore).getUsage('old-1')).toMatchObject({ id: 'old-1', requestId: 'old-1', totalTokens: 3, outcome: null });
      // Two requests that share an x-request-id are two records now.
      expect(await store.usage.insertBatch([usage({ id: 'new-1', requestId: 'dup' }), usage({ id: 'new-2', requestId: 'dup' })])).toBe(2);
      expect(await store.usage.count()).toBe(3);
    } finally {
      await store.close();
    }
  });

  test('audit records are append-only in the database itself', async () => {
    const store = await openStore({ dataDir: dir });
    await store.audit.append([audit({ id: 'aud_1' })]);
    await store.close();
    const raw = new Database(path.join(dir, 'gateway.db'));
    try {
      expect(() => raw.prepare("UPDATE audit_records SET outcome = 'success'").run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit_records').run()).toThrow(/append-only/);
      expect(raw.prepare('SELECT COUNT(*) AS n FROM audit_records').get()).toEqual({ n: 1 });
    } finally {
      raw.close();
    }
  });

  test('a database URL that is not PostgreSQL is refused', async () => {
    await expect(openStore({ dataDir: dir, databaseUrl: 'mysql://db/gateway' })).rejects.toThrow(/postgres:\/\//);
    expect(fs.existsSync(path.join(dir, 'gateway.db'))).toBe(false);
  });
});
