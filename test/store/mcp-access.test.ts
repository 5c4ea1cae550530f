import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { PostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite';
import type { McpAccessRuleRecord, Store } from '../../src/store/types';

/** The mcp_access_rules table (MCP access rules added through /v1/mcp/access) in both stores. */

const rec = (over: Partial<McpAccessRuleRecord> = {}): McpAccessRuleRecord => ({
  id: 'mcpa_b',
  keys: ['vk_1'],
  teams: null,
  identities: null,
  servers: ['weather'],
  tools: ['weather__get_*'],
  description: 'qa bot',
  createdAt: 1000,
  updatedAt: 1000,
  ...over,
});

function suite(name: string, open: () => Promise<{ store: Store; drop: () => Promise<void> }>) {
  describe(`MCP access rules (${name})`, () => {
    let store: Store;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ store, drop } = await open());
      await store.migrate();
    });
    afterAll(async () => {
      await store.close();
      await drop();
    });

    test('upsert keeps createdAt, lists oldest first with nulls kept, delete says whether it removed one', async () => {
      await store.mcpAccess.upsert(rec());
      await store.mcpAccess.upsert(rec({ id: 'mcpa_a', keys: null, teams: ['qa'], identities: ['spiffe://x/*'], description: null, createdAt: 2000, updatedAt: 2000 }));
      await store.mcpAccess.upsert(rec({ tools: ['*'], createdAt: 5000, updatedAt: 6000 }));
      const all = await store.mcpAccess.list();
      expect(all.map((r) => r.id)).toEqual(['mcpa_b', 'mcpa_a']);
      expect(all[0]).toEqual(rec({ tools: ['*'], updatedAt: 6000 }));
      expect(all[1]).toEqual(rec({ id: 'mcpa_a', keys: null, teams: ['qa'], identities: ['spiffe://x/*'], description: null, createdAt: 2000, updatedAt: 2000 }));
      expect(await store.mcpAccess.delete('mcpa_b')).toBe(true);
      expect(await store.mcpAccess.delete('mcpa_b')).toBe(false);
      expect((await store.mcpAccess.list()).map((r) => r.id)).toEqual(['mcpa_a']);
    });
  });
}

suite('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-mcp-access-'));
  return { store: new SqliteStore(path.join(dir, 'gateway.db')), drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

const url = process.env.TEST_DATABASE_URL;
if (url) {
  suite('PostgreSQL', async () => {
    const admin = new Pool({ connectionString: url, max: 1 });
    const schema = `mcp_access_test_${process.pid}_${crypto.randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    const u = new URL(url);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return {
      store: new PostgresStore(u.toString(), { maxConnections: 2 }),
      drop: async () => {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      },
    };
  });
} else {
  test.skip('PostgreSQL: needs TEST_DATABASE_URL', () => undefined);
}
