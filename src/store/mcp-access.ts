import type Database from 'better-sqlite3';
import type { McpAccessRuleRecord, McpAccessRuleStore } from './types';

/** The mcp_access_rules table (src/mcp/access.ts), for both dialects; each store only wires it. */

const COLUMNS = ['id', 'keys', 'teams', 'identities', 'servers', 'tools', 'description', 'created_at', 'updated_at'] as const;
const updates = COLUMNS.filter((c) => c !== 'id' && c !== 'created_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');
const upsert = (placeholders: string) => `INSERT INTO mcp_access_rules (${COLUMNS.join(', ')}) VALUES (${placeholders}) ON CONFLICT (id) DO UPDATE SET ${updates}`;
// Creation order; the id breaks ties so both dialects agree.
const LIST = 'SELECT * FROM mcp_access_rules ORDER BY created_at, id';

type Row = Record<string, unknown>;

const list = (v: string[] | null): string | null => (v === null ? null : JSON.stringify(v));

function values(r: McpAccessRuleRecord): unknown[] {
  return [r.id, list(r.keys), list(r.teams), list(r.identities), JSON.stringify(r.servers), JSON.stringify(r.tools), r.description, r.createdAt, r.updatedAt];
}

/** SQLite hands JSON back as text, PostgreSQL (JSONB) as values. */
function strings(v: unknown): string[] | null {
  const parsed: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  return Array.isArray(parsed) ? parsed.map(String) : null;
}

function fromRow(row: Row): McpAccessRuleRecord {
  return {
    id: String(row.id),
    keys: strings(row.keys),
    teams: strings(row.teams),
    identities: strings(row.identities),
    servers: strings(row.servers) ?? [],
    tools: strings(row.tools) ?? [],
    description: row.description === null || row.description === undefined ? null : String(row.description),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export class SqliteMcpAccessRuleStore implements McpAccessRuleStore {
  constructor(private readonly s: { stmt(sql: string): Database.Statement }) {}

  async list(): Promise<McpAccessRuleRecord[]> {
    return (this.s.stmt(LIST).all() as Row[]).map(fromRow);
  }

  async upsert(rec: McpAccessRuleRecord): Promise<void> {
    this.s.stmt(upsert(COLUMNS.map(() => '?').join(', '))).run(...values(rec));
  }

  async delete(id: string): Promise<boolean> {
    return this.s.stmt('DELETE FROM mcp_access_rules WHERE id = ?').run(id).changes > 0;
  }
}

export class PgMcpAccessRuleStore implements McpAccessRuleStore {
  constructor(private readonly s: { q(sql: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> }) {}

  async list(): Promise<McpAccessRuleRecord[]> {
    // COLLATE "C": byte order, as SQLite sorts.
    return (await this.s.q(`${LIST} COLLATE "C"`)).rows.map(fromRow);
  }

  async upsert(rec: McpAccessRuleRecord): Promise<void> {
    await this.s.q(upsert(COLUMNS.map((_, i) => `$${i + 1}`).join(', ')), values(rec));
  }

  async delete(id: string): Promise<boolean> {
    return (await this.s.q('DELETE FROM mcp_access_rules WHERE id = $1', [id])).rowCount > 0;
  }
}
