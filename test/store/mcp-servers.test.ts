import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { PostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite';
import type { McpServerRecord, Store } from '../../src/store/types';

/** The mcp_servers table (MCP gateway servers added through the admin API) in both stores. */

const rec = (over: Partial<McpServerRecord> = {}): McpServerRecord => ({
  name: 'weather',
  url: 'https://mcp.example.com/mcp',
  transport: 'streamable-http',
  headers: { 'x-team': 'a' },
  credential: 'enc:v1:abc',
  credentialHeader: 'authorization',
  timeoutSeconds: 30,
  createdAt: 1000,
  updatedAt: 1000,
  ...over,
});

function suite(name: string, open: () => Promise<{ store: Store; drop: () => Promise<void> }>) {
  describe(`MCP servers (${name})`, () => {
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

    test('upsert keeps createdAt, list is sorted by byte order, delete says whether it removed one', async () => {
      await store.mcpServers.upsert(rec());
      await store.mcpServers.upsert(rec({ name: 'a-files', transport: 'sse', credential: null, headers: {} }));
      await store.mcpServers.upsert(rec({ url: 'https://other/mcp', createdAt: 5000, updatedAt: 6000 }));
      const all = await store.mcpServers.list();
      expect(all.map((r) => r.name)).toEqual(['a-files', 'weather']);
      expect(all[0]).toEqual(rec({ name: 'a-files', transport: 'sse', credential: null, headers: {} }));
      expect(all[1]).toEqual(rec({ url: 'https://other/mcp', createdAt: 1000, updatedAt: 6000 }));
      expect(await store.mcpServers.delete('weather')).toBe(true);
      expect(await store.mcpServers.delete('weather')).toBe(false);
      expect((await store.mcpServers.list()).map((r) => r.name)).toEqual(['a-files']);
    });
  });
}

suite('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-mcp-store-'));
  return { store: new SqliteStore(path.join(dir, 'gateway.db')), drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

const url = process.env.TEST_DATABASE_URL;
if (url) {
  suite('PostgreSQL', async () => {
    const admin = new Pool({ connectionString: url, max: 1 });
    const schema = `mcp_test_${process.pid}_${crypto.randomBytes(6).toString('hex')}`;
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
