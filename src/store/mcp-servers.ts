import type Database from 'better-sqlite3';
import { MCP_SERVER_COLUMNS, mcpServerFromRow, mcpServerValues } from './migrations';
import type { McpServerRecord, McpServerStore } from './types';

/** The mcp_servers table (src/mcp), for both dialects; kept apart so each store only wires it. */

const updates = MCP_SERVER_COLUMNS.filter((c) => c !== 'name' && c !== 'created_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');
const upsert = (placeholders: string) => `INSERT INTO mcp_servers (${MCP_SERVER_COLUMNS.join(', ')}) VALUES (${placeholders}) ON CONFLICT (name) DO UPDATE SET ${updates}`;

type Row = Record<string, unknown>;

export class SqliteMcpServerStore implements McpServerStore {
  constructor(private readonly s: { stmt(sql: string): Database.Statement }) {}

  async list(): Promise<McpServerRecord[]> {
    return (this.s.stmt('SELECT * FROM mcp_servers ORDER BY name').all() as Row[]).map(mcpServerFromRow);
  }

  async upsert(rec: McpServerRecord): Promise<void> {
    this.s.stmt(upsert(MCP_SERVER_COLUMNS.map(() => '?').join(', '))).run(...mcpServerValues(rec));
  }

  async delete(name: string): Promise<boolean> {
    return this.s.stmt('DELETE FROM mcp_servers WHERE name = ?').run(name).changes > 0;
  }
}

export class PgMcpServerStore implements McpServerStore {
  constructor(private readonly s: { q(sql: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> }) {}

  async list(): Promise<McpServerRecord[]> {
    // COLLATE "C": byte order, as SQLite sorts.
    return (await this.s.q('SELECT * FROM mcp_servers ORDER BY name COLLATE "C"')).rows.map(mcpServerFromRow);
  }

  async upsert(rec: McpServerRecord): Promise<void> {
    await this.s.q(upsert(MCP_SERVER_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')), mcpServerValues(rec));
  }

  async delete(name: string): Promise<boolean> {
    return (await this.s.q('DELETE FROM mcp_servers WHERE name = $1', [name])).rowCount > 0;
  }
}
