import crypto from 'node:crypto';
import { Pool } from 'pg';
import { openStore } from '../../src/store';
import { PostgresStore } from '../../src/store/postgres';
import { audit, describeStore, key } from './store-suite';

/**
 * The shared suite against PostgreSQL at TEST_DATABASE_URL (`eval "$(bash scripts/test-postgres.sh
 * start)"` starts a throwaway server). Every database of the suite is a fresh schema, selected
 * through the connection string's `options=-c search_path=…`, and dropped afterwards.
 */
const url = process.env.TEST_DATABASE_URL;

const HOW = 'start one with: eval "$(bash scripts/test-postgres.sh start)"';

if (!url) {
  if (process.env.CI === 'true') {
    describe('PostgreSQL store', () => {
      test('TEST_DATABASE_URL is set (required in CI)', () => {
        throw new Error(`TEST_DATABASE_URL is not set: CI must run the PostgreSQL store suite; ${HOW}`);
      });
    });
  } else {
    console.warn(`test/store/postgres.test.ts: skipped, TEST_DATABASE_URL is not set (${HOW})`);
    describe.skip('PostgreSQL store', () => {
      test('needs TEST_DATABASE_URL', () => undefined);
    });
  }
} else {
  const admin = new Pool({ connectionString: url, max: 2 });
  afterAll(() => admin.end());

  /** The URL with its search_path set to one schema. */
  const urlFor = (schema: string): string => {
    const u = new URL(url);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u.toString();
  };

  async function createSchema(): Promise<{ schema: string; url: string; drop: () => Promise<void> }> {
    // Only [a-z0-9_]: safe as an identifier without quoting.
    const schema = `store_test_${process.pid}_${crypto.randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    return { schema, url: urlFor(schema), drop: async () => void (await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)) };
  }

  describeStore('PostgreSQL', async () => {
    const s = await createSchema();
    return { open: async () => new PostgresStore(s.url, { maxConnections: 4 }), drop: s.drop };
  });

  describe('openStore (PostgreSQL)', () => {
    test('a postgres:// URL opens PostgreSQL, migrated, in that schema only', async () => {
      const s = await createSchema();
      const store = await openStore({ databaseUrl: s.url, dataDir: '/nonexistent/never-created' });
      try {
        expect(store.kind).toBe('postgres');
        await store.keys.insert(key());
        const { rows } = await admin.query(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
          [s.schema],
        );
        expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual([
          'audit_records', 'mcp_access_rules', 'mcp_servers', 'providers', 'schema_migrations', 'security_settings', 'usage_records', 'virtual_keys',
        ]);
        const postgresql = await openStore({ databaseUrl: s.url.replace(/^postgres:/, 'postgresql:'), dataDir: '/nonexistent' });
        expect(await postgresql.keys.getById('key_1')).toEqual(key());
        await postgresql.close();
      } finally {
        await store.close();
        await s.drop();
      }
    });

    test('audit records are append-only in the database itself', async () => {
      const s = await createSchema();
      const store = await openStore({ databaseUrl: s.url, dataDir: '/nonexistent/never-created' });
      const raw = new Pool({ connectionString: s.url, max: 1 });
      try {
        await store.audit.append([audit({ id: 'aud_1' })]);
        await expect(raw.query("UPDATE audit_records SET outcome = 'success'")).rejects.toThrow(/append-only/);
        await expect(raw.query('DELETE FROM audit_records')).rejects.toThrow(/append-only/);
        await expect(raw.query('TRUNCATE audit_records')).rejects.toThrow(/append-only/);
        expect((await raw.query('SELECT COUNT(*)::int AS n FROM audit_records')).rows).toEqual([{ n: 1 }]);
      } finally {
        await raw.end();
        await store.close();
        await s.drop();
      }
    });
  });
}
