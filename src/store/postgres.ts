/**
 * The shared store: PostgreSQL through node-postgres' Pool, for several gateway replicas at once.
 * Every statement is parameterised ($1, $2, …); SQL text is assembled only from fixed fragments.
 */
import { redactUrl as redactUrlWith } from '../util/url';
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type { Logger } from 'pino';
import type { SecuritySettings } from '../domain';
import { keyListQuery } from './key-list';
import {
  AUDIT_COLUMNS,
  COLUMN_TYPES,
  KEY_COLUMNS,
  KEY_IMPORT_CONFLICT,
  PROVIDER_COLUMNS,
  SCHEMA_MIGRATIONS_DDL,
  USAGE_COLUMNS,
  USAGE_ROW_SELECT,
  USAGE_TOTALS_SELECT,
  auditFromRow,
  auditSelect,
  auditValues,
  groupExpression,
  keyFromRow,
  keyValues,
  migrationStatements,
  num,
  numOrNull,
  patchAssignments,
  pendingMigrations,
  providerFromRow,
  providerValues,
  round2,
  settingsFromRow,
  usageFromRow,
  usageRowFromRow,
  usagePage,
  usageTotalsFromRow,
  usageValues,
  usageWhere,
} from './migrations';
import {
  StoreConflictError,
  type AuditQuery,
  type AuditRecord,
  type AuditStore,
  type ImportedKeySource,
  type KeyStore,
  type ProviderRecord,
  type ProviderStore,
  type SettingsStore,
  type Store,
  type StoredSettings,
  type UsageQuery,
  type UsageRecord,
  type UsageRow,
  type UsageStore,
  type UsageSummary,
  type UsageTotals,
  type VirtualKeyPatch,
  type KeyListFilter,
  type VirtualKeyRecord,
} from './types';
import { PgMcpServerStore } from './mcp-servers';
import { PgMcpAccessRuleStore } from './mcp-access';
import type { McpAccessRuleStore, McpServerStore } from './types';

type Row = Record<string, unknown>;

export interface PostgresStoreOptions {
  /** Pool size per replica (default 10). */
  maxConnections?: number;
  log?: Logger;
  /** Extra node-postgres settings (ssl, timeouts, …). */
  pool?: Omit<PoolConfig, 'connectionString'>;
}

/** Rows per INSERT in insertBatch: 1000 × 21 columns stays far below PG's 65535 parameters. */
export const PG_INSERT_CHUNK = 1000;

/** First key of the migration advisory lock ('llmg'); the second is the schema's hash. */
const MIGRATION_LOCK_KEY = 0x6c6c6d67;

/** UTC `YYYY-MM-DD` of an epoch-ms column. */
const DAY_SQL = "to_char(to_timestamp(time / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
/** UTC `YYYY-MM-DDTHH:00:00Z` of an epoch-ms column. */
const HOUR_SQL = "to_char(to_timestamp(time / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')";

/** Renumbers the `?` placeholders of SQL written in this module (never of input) as $1, $2, …. */
function numbered(sql: string, first = 1): string {
  let n = first;
  return sql.replace(/\?/g, () => `$${n++}`);
}

const placeholders = (count: number, first: number): string =>
  Array.from({ length: count }, (_, i) => `$${first + i}`).join(', ');

const KEY_INSERT = `INSERT INTO virtual_keys (${KEY_COLUMNS.join(', ')}) VALUES (${placeholders(KEY_COLUMNS.length, 1)})`;
const KEY_IMPORT = `${KEY_INSERT} ${KEY_IMPORT_CONFLICT}`;

const PROVIDER_UPSERT = `INSERT INTO providers (${PROVIDER_COLUMNS.join(', ')}) VALUES (${placeholders(PROVIDER_COLUMNS.length, 1)})
  ON CONFLICT (name) DO UPDATE SET ${PROVIDER_COLUMNS.filter((c) => c !== 'name' && c !== 'created_at')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

/** The URL without its password, for logs. */
export const redactUrl = (url: string): string => redactUrlWith(url, 'postgres://…');

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly providers: ProviderStore;
  readonly mcpServers: McpServerStore;
  readonly mcpAccess: McpAccessRuleStore;
  readonly audit: AuditStore;
  readonly settings: SettingsStore;
  readonly pool: Pool;
  private readonly log?: Logger;
  private closed = false;

  constructor(readonly url: string, opts: PostgresStoreOptions = {}) {
    this.log = opts.log;
    this.pool = new Pool({
      application_name: 'llm-gateway',
      // A database that does not answer must fail fast, not hold requests or the writer.
      connectionTimeoutMillis: 3000,
      ...opts.pool,
      connectionString: url,
      max: opts.maxConnections ?? opts.pool?.max ?? 10,
    });
    // An idle client's connection dropping (server restart, failover) must not crash the
    // process: the pool discards it and the next query opens a new one.
    this.pool.on('error', (err) => this.log?.warn({ err: { message: err.message }, store: 'postgres' }, 'idle PostgreSQL connection failed'));
    this.keys = new PgKeyStore(this);
    this.usage = new PgUsageStore(this);
    this.providers = new PgProviderStore(this);
    this.mcpServers = new PgMcpServerStore(this);
    this.mcpAccess = new PgMcpAccessRuleStore(this);
    this.audit = new PgAuditStore(this);
    this.settings = new PgSettingsStore(this);
  }

  async q(sql: string, params: unknown[] = []): Promise<{ rows: Row[]; rowCount: number }> {
    const r = await this.pool.query(sql, params);
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
  }

  /** Runs fn in one transaction on one pooled connection. */
  async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async migrate(): Promise<void> {
    // The transaction-scoped advisory lock serialises replicas that start together: the second
    // waits here, then finds the versions the first recorded. Keyed by schema, so separate
    // schemas in one database (tests, several gateways) don't wait for each other.
    const applied = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::integer, hashtext(current_schema()))', [MIGRATION_LOCK_KEY]);
      await c.query(SCHEMA_MIGRATIONS_DDL(COLUMN_TYPES.postgres));
      const done = (await c.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => num(r.version));
      const pending = pendingMigrations(done);
      for (const m of pending) {
        for (const sql of migrationStatements(m, 'postgres')) await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      return pending.map((m) => m.version);
    });
    if (applied.length) this.log?.info({ store: 'postgres', url: redactUrl(this.url), applied }, 'store migrations applied');
  }

  /** Versions recorded in schema_migrations (for tests and diagnostics). */
  async appliedMigrations(): Promise<number[]> {
    const { rows } = await this.q('SELECT version FROM schema_migrations ORDER BY version');
    return rows.map((r) => num(r.version));
  }

  /** One stored usage record (diagnostics and tests; not part of the Store interface). */
  async getUsage(id: string): Promise<UsageRecord | undefined> {
    const { rows } = await this.q('SELECT * FROM usage_records WHERE id = $1', [id]);
    return rows[0] ? usageFromRow(rows[0]) : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

class PgKeyStore implements KeyStore {
  constructor(private readonly s: PostgresStore) {}

  async insert(rec: VirtualKeyRecord): Promise<void> {
    try {
      await this.s.q(KEY_INSERT, keyValues(rec));
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`virtual key ${rec.id}: id or hash already exists`);
      throw err;
    }
  }

  async importKey(rec: VirtualKeyRecord): Promise<boolean> {
    try {
      return (await this.s.q(KEY_IMPORT, keyValues(rec))).rowCount > 0;
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`virtual key ${rec.id}: hash belongs to another key`);
      throw err;
    }
  }

  async getById(id: string): Promise<VirtualKeyRecord | undefined> {
    const { rows } = await this.s.q('SELECT * FROM virtual_keys WHERE id = $1', [id]);
    return rows[0] ? keyFromRow(rows[0]) : undefined;
  }

  async getByHash(hash: string): Promise<VirtualKeyRecord | undefined> {
    const { rows } = await this.s.q('SELECT * FROM virtual_keys WHERE hash = $1', [hash]);
    return rows[0] ? keyFromRow(rows[0]) : undefined;
  }

  async list(filter: KeyListFilter = {}): Promise<VirtualKeyRecord[]> {
    // COLLATE "C": ids in byte order, as SQLite's, whatever the database's locale.
    const page = keyListQuery(filter, ' COLLATE "C"');
    const { rows } = await this.s.q(numbered(`SELECT * FROM virtual_keys ${page.sql}`), page.params);
    return rows.map(keyFromRow);
  }

  async update(id: string, patch: VirtualKeyPatch, now: number): Promise<VirtualKeyRecord | undefined> {
    const sets = patchAssignments(patch);
    const sql = numbered(
      `UPDATE virtual_keys SET ${[...sets.map((a) => `${a.column} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ? RETURNING *`,
    );
    try {
      const { rows } = await this.s.q(sql, [...sets.map((a) => a.value), now, id]);
      return rows[0] ? keyFromRow(rows[0]) : undefined;
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`virtual key ${id}: update conflicts with another key`);
      throw err;
    }
  }

  async revoke(id: string, now: number): Promise<boolean> {
    const { rows } = await this.s.q(
      `WITH revoked AS (
         UPDATE virtual_keys SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id
       )
       SELECT EXISTS (SELECT 1 FROM virtual_keys WHERE id = $1) AS found`,
      [id, now],
    );
    return rows[0]?.found === true;
  }

  async revokeUnlisted(source: ImportedKeySource, keep: readonly string[], now: number): Promise<string[]> {
    const { rows } = await this.s.q(
      `UPDATE virtual_keys SET revoked_at = $1, updated_at = $1
       WHERE source = $2 AND revoked_at IS NULL AND NOT (id = ANY($3::text[])) RETURNING id`,
      [now, source, [...keep]],
    );
    return rows.map((r) => String(r.id)).sort();
  }
}

class PgUsageStore implements UsageStore {
  constructor(private readonly s: PostgresStore) {}

  async insertBatch(records: UsageRecord[]): Promise<number> {
    if (!records.length) return 0;
    const chunks: UsageRecord[][] = [];
    for (let i = 0; i < records.length; i += PG_INSERT_CHUNK) chunks.push(records.slice(i, i + PG_INSERT_CHUNK));
    const insertChunk = async (run: (sql: string, params: unknown[]) => Promise<number>, chunk: UsageRecord[]) => {
      const width = USAGE_COLUMNS.length;
      const rows = chunk.map((_, i) => `(${placeholders(width, i * width + 1)})`);
      const sql = `INSERT INTO usage_records (${USAGE_COLUMNS.join(', ')}) VALUES ${rows.join(', ')}
        ON CONFLICT (id) DO NOTHING`;
      return run(
        sql,
        chunk.flatMap((r) => usageValues(r, 'postgres')),
      );
    };
    if (chunks.length === 1) {
      return insertChunk(async (sql, params) => (await this.s.q(sql, params)).rowCount, chunks[0]!);
    }
    // Several statements: one transaction, so a failed batch leaves nothing half-written.
    return this.s.tx(async (c) => {
      let inserted = 0;
      for (const chunk of chunks) {
        inserted += await insertChunk(async (sql, params) => (await c.query(sql, params)).rowCount ?? 0, chunk);
      }
      return inserted;
    });
  }

  async query(q: UsageQuery): Promise<UsageRow[]> {
    const where = usageWhere(q);
    if (q.groupBy === undefined || q.groupBy === null) {
      const { rows } = await this.s.q(numbered(`SELECT 'all' AS grp, ${USAGE_ROW_SELECT} FROM usage_records ${where.sql}`), where.params);
      return [usageRowFromRow(rows[0] ?? { grp: 'all' })];
    }
    // COLLATE "C": byte order, the same as SQLite's, whatever the database's locale.
    const expr = groupExpression(q.groupBy, DAY_SQL, HOUR_SQL);
    const page = usagePage(q);
    const { rows } = await this.s.q(
      numbered(
        `SELECT (${expr}) COLLATE "C" AS grp, ${USAGE_ROW_SELECT} FROM usage_records ${where.sql}
         GROUP BY grp ORDER BY grp ASC NULLS LAST${page.sql}`,
      ),
      [...where.params, ...page.params],
    );
    return rows.map(usageRowFromRow);
  }

  async summary(filter: { keyId?: string; team?: string } = {}): Promise<UsageSummary> {
    const where = usageWhere({ keyId: filter.keyId, team: filter.team });
    const [totals, byProvider] = await Promise.all([
      this.s.q(
        numbered(`SELECT COUNT(*) AS n, AVG(duration_ms) AS avg_ms, MAX(time) AS last FROM usage_records ${where.sql}`),
        where.params,
      ),
      this.s.q(
        numbered(
          `SELECT COALESCE(provider, 'none') AS provider, COUNT(*) AS n FROM usage_records ${where.sql}
           GROUP BY COALESCE(provider, 'none')`,
        ),
        where.params,
      ),
    ]);
    const t = totals.rows[0] ?? {};
    const requestsByProvider: Record<string, number> = {};
    for (const r of byProvider.rows) requestsByProvider[String(r.provider)] = num(r.n);
    return {
      totalRequests: num(t.n),
      requestsByProvider,
      averageResponseMs: round2(t.avg_ms),
      lastUpdated: numOrNull(t.last),
    };
  }

  async totalsForKey(keyId: string, since?: number): Promise<UsageTotals> {
    const where = usageWhere({ keyId, start: since });
    const { rows } = await this.s.q(numbered(`SELECT ${USAGE_TOTALS_SELECT} FROM usage_records ${where.sql}`), where.params);
    return usageTotalsFromRow(rows[0] ?? {});
  }

  async count(): Promise<number> {
    const { rows } = await this.s.q('SELECT COUNT(*) AS n FROM usage_records');
    return num(rows[0]?.n);
  }
}

class PgProviderStore implements ProviderStore {
  constructor(private readonly s: PostgresStore) {}

  async list(): Promise<ProviderRecord[]> {
    // COLLATE "C": byte order, the same as SQLite's, whatever the database's locale.
    const { rows } = await this.s.q('SELECT * FROM providers ORDER BY name COLLATE "C"');
    return rows.map(providerFromRow);
  }

  async get(name: string): Promise<ProviderRecord | undefined> {
    const { rows } = await this.s.q('SELECT * FROM providers WHERE name = $1', [name]);
    return rows[0] ? providerFromRow(rows[0]) : undefined;
  }

  async upsert(rec: ProviderRecord): Promise<void> {
    await this.s.q(PROVIDER_UPSERT, providerValues(rec));
  }

  async delete(name: string): Promise<boolean> {
    const { rowCount } = await this.s.q('DELETE FROM providers WHERE name = $1', [name]);
    return rowCount > 0;
  }
}

class PgAuditStore implements AuditStore {
  constructor(private readonly s: PostgresStore) {}

  async append(records: AuditRecord[]): Promise<number> {
    if (!records.length) return 0;
    // Audit batches are small (admin actions); 1000 rows × 10 columns stays far below PG's limit.
    const width = AUDIT_COLUMNS.length;
    let inserted = 0;
    for (let i = 0; i < records.length; i += PG_INSERT_CHUNK) {
      const chunk = records.slice(i, i + PG_INSERT_CHUNK);
      const rows = chunk.map((_, j) => `(${placeholders(width, j * width + 1)})`);
      const sql = `INSERT INTO audit_records (${AUDIT_COLUMNS.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`;
      inserted += (await this.s.q(sql, chunk.flatMap(auditValues))).rowCount;
    }
    return inserted;
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    // COLLATE "C": ties ordered by id in byte order, as in SQLite.
    const { sql, params } = auditSelect(q, 'COLLATE "C"');
    const { rows } = await this.s.q(numbered(sql), params);
    return rows.map(auditFromRow);
  }
}

class PgSettingsStore implements SettingsStore {
  constructor(private readonly s: PostgresStore) {}

  async get(): Promise<StoredSettings | undefined> {
    const { rows } = await this.s.q('SELECT value, version FROM security_settings WHERE id = 1');
    return rows[0] ? settingsFromRow(rows[0]) : undefined;
  }

  async put(value: SecuritySettings, expectedVersion?: number): Promise<number> {
    const doc = JSON.stringify(value);
    const now = Date.now();
    let rows: Row[];
    if (expectedVersion === undefined) {
      ({ rows } = await this.s.q(
        `INSERT INTO security_settings (id, value, version, updated_at) VALUES (1, $1, 1, $2)
         ON CONFLICT (id) DO UPDATE SET value = excluded.value, version = security_settings.version + 1, updated_at = excluded.updated_at
         RETURNING version`,
        [doc, now],
      ));
    } else if (expectedVersion === 0) {
      ({ rows } = await this.s.q(
        'INSERT INTO security_settings (id, value, version, updated_at) VALUES (1, $1, 1, $2) ON CONFLICT (id) DO NOTHING RETURNING version',
        [doc, now],
      ));
    } else {
      // The version check and the write are one statement: two replicas racing cannot both win.
      ({ rows } = await this.s.q(
        'UPDATE security_settings SET value = $1, version = version + 1, updated_at = $2 WHERE id = 1 AND version = $3 RETURNING version',
        [doc, now, expectedVersion],
      ));
    }
    if (!rows[0]) throw new StoreConflictError(`security settings: version ${expectedVersion} is no longer current`);
    return num(rows[0].version);
  }
}
