/**
 * The embedded store: one SQLite file through better-sqlite3. better-sqlite3 is synchronous, so
 * every method is one short statement (or one short transaction) on the event loop; the methods
 * still return Promises because the Store interface is async (PostgreSQL's is not synchronous).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { SqliteUsageThread } from './sqlite-usage-thread';
import type { SecuritySettings } from '../domain';
import { keyListQuery } from './key-list';
import {
  AUDIT_COLUMNS,
  KEY_COLUMNS,
  KEY_IMPORT_CONFLICT,
  PROVIDER_COLUMNS,
  SCHEMA_MIGRATIONS_DDL,
  COLUMN_TYPES,
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
import { SqliteMcpServerStore } from './mcp-servers';
import { SqliteMcpAccessRuleStore } from './mcp-access';
import type { McpAccessRuleStore, McpServerStore } from './types';

type Row = Record<string, unknown>;

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number;
  log?: Logger;
}

/** UTC `YYYY-MM-DD` of an epoch-ms column. */
const DAY_SQL = "strftime('%Y-%m-%d', time / 1000, 'unixepoch')";
/** UTC `YYYY-MM-DDTHH:00:00Z` of an epoch-ms column. */
const HOUR_SQL = "strftime('%Y-%m-%dT%H:00:00Z', time / 1000, 'unixepoch')";

const KEY_INSERT = `INSERT INTO virtual_keys (${KEY_COLUMNS.join(', ')}) VALUES (${KEY_COLUMNS.map(() => '?').join(', ')})`;
const KEY_IMPORT = `${KEY_INSERT} ${KEY_IMPORT_CONFLICT}`;
export const USAGE_INSERT = `INSERT INTO usage_records (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (id) DO NOTHING`;

const PROVIDER_UPSERT = `INSERT INTO providers (${PROVIDER_COLUMNS.join(', ')}) VALUES (${PROVIDER_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (name) DO UPDATE SET ${PROVIDER_COLUMNS.filter((c) => c !== 'name' && c !== 'created_at')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;

const AUDIT_INSERT = `INSERT INTO audit_records (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (id) DO NOTHING`;

function isConstraintError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly providers: ProviderStore;
  readonly mcpServers: McpServerStore;
  readonly mcpAccess: McpAccessRuleStore;
  readonly audit: AuditStore;
  readonly settings: SettingsStore;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly log?: Logger;
  private readonly busyTimeoutMs: number;
  /** Usage inserts off the main thread; started with the first batch (the tables exist by then). */
  private usageThread: SqliteUsageThread | undefined | null = null;

  constructor(readonly file: string, opts: SqliteStoreOptions = {}) {
    this.log = opts.log;
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const busy = opts.busyTimeoutMs ?? 5000;
    this.busyTimeoutMs = busy;
    this.db = new Database(file, { timeout: busy });
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busy))}`);
    // WAL: readers never block the writer; NORMAL is durable across application crashes and
    // loses at most the last transactions on power loss, which usage records can afford.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.keys = new SqliteKeyStore(this);
    this.usage = new SqliteUsageStore(this);
    this.providers = new SqliteProviderStore(this);
    this.mcpServers = new SqliteMcpServerStore(this);
    this.mcpAccess = new SqliteMcpAccessRuleStore(this);
    this.audit = new SqliteAuditStore(this);
    this.settings = new SqliteSettingsStore(this);
  }

  /** A prepared statement, made once per SQL text (after migrate(): tables must exist). */
  stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** The usage writer thread, or undefined where there is none (in-memory, unbuilt sources). */
  usageWriter(): SqliteUsageThread | undefined {
    if (this.usageThread === null) this.usageThread = SqliteUsageThread.start(this.file, this.busyTimeoutMs);
    return this.usageThread;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  async migrate(): Promise<void> {
    // BEGIN IMMEDIATE takes the write lock up front: a second process migrating the same file
    // waits (busy_timeout) and then finds the versions already recorded.
    const applied = this.db
      .transaction(() => {
        this.db.exec(SCHEMA_MIGRATIONS_DDL(COLUMN_TYPES.sqlite));
        const done = (this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => num(r.version));
        const pending = pendingMigrations(done);
        const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
        for (const m of pending) {
          for (const sql of migrationStatements(m, 'sqlite')) this.db.exec(sql);
          record.run(m.version, m.name, Date.now());
        }
        return pending.map((m) => m.version);
      })
      .immediate();
    if (applied.length) this.log?.info({ store: 'sqlite', file: this.file, applied }, 'store migrations applied');
  }

  /** Versions recorded in schema_migrations (for tests and diagnostics). */
  async appliedMigrations(): Promise<number[]> {
    const rows = this.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Row[];
    return rows.map((r) => num(r.version));
  }

  /** One stored usage record (diagnostics and tests; not part of the Store interface). */
  async getUsage(id: string): Promise<UsageRecord | undefined> {
    const row = this.stmt('SELECT * FROM usage_records WHERE id = ?').get(id) as Row | undefined;
    return row ? usageFromRow(row) : undefined;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    await this.usageThread?.close();
    this.usageThread = undefined;
    this.statements.clear();
    this.db.close();
  }
}

class SqliteKeyStore implements KeyStore {
  constructor(private readonly s: SqliteStore) {}

  async insert(rec: VirtualKeyRecord): Promise<void> {
    try {
      this.s.stmt(KEY_INSERT).run(...keyValues(rec));
    } catch (err) {
      if (isConstraintError(err)) throw new StoreConflictError(`virtual key ${rec.id}: id or hash already exists`);
      throw err;
    }
  }

  async importKey(rec: VirtualKeyRecord): Promise<boolean> {
    try {
      return this.s.stmt(KEY_IMPORT).get(...keyValues(rec)) !== undefined;
    } catch (err) {
      if (isConstraintError(err)) throw new StoreConflictError(`virtual key ${rec.id}: hash belongs to another key`);
      throw err;
    }
  }

  async getById(id: string): Promise<VirtualKeyRecord | undefined> {
    const row = this.s.stmt('SELECT * FROM virtual_keys WHERE id = ?').get(id) as Row | undefined;
    return row ? keyFromRow(row) : undefined;
  }

  async getByHash(hash: string): Promise<VirtualKeyRecord | undefined> {
    const row = this.s.stmt('SELECT * FROM virtual_keys WHERE hash = ?').get(hash) as Row | undefined;
    return row ? keyFromRow(row) : undefined;
  }

  async list(filter: KeyListFilter = {}): Promise<VirtualKeyRecord[]> {
    const page = keyListQuery(filter);
    return (this.s.stmt(`SELECT * FROM virtual_keys ${page.sql}`).all(...page.params) as Row[]).map(keyFromRow);
  }

  async update(id: string, patch: VirtualKeyPatch, now: number): Promise<VirtualKeyRecord | undefined> {
    const sets = patchAssignments(patch);
    const sql = `UPDATE virtual_keys SET ${[...sets.map((a) => `${a.column} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ? RETURNING *`;
    try {
      const row = this.s.stmt(sql).get(...sets.map((a) => a.value), now, id) as Row | undefined;
      return row ? keyFromRow(row) : undefined;
    } catch (err) {
      if (isConstraintError(err)) throw new StoreConflictError(`virtual key ${id}: update conflicts with another key`);
      throw err;
    }
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return this.s.transaction(() => {
      this.s.stmt('UPDATE virtual_keys SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, now, id);
      return this.s.stmt('SELECT 1 FROM virtual_keys WHERE id = ?').get(id) !== undefined;
    });
  }

  async revokeUnlisted(source: ImportedKeySource, keep: readonly string[], now: number): Promise<string[]> {
    // The ids travel as one JSON parameter: a keys.json may list more keys than SQLite allows parameters.
    const rows = this.s
      .stmt(
        `UPDATE virtual_keys SET revoked_at = ?, updated_at = ?
         WHERE source = ? AND revoked_at IS NULL AND id NOT IN (SELECT value FROM json_each(?)) RETURNING id`,
      )
      .all(now, now, source, JSON.stringify(keep)) as Row[];
    return rows.map((r) => String(r.id)).sort();
  }
}

class SqliteUsageStore implements UsageStore {
  constructor(private readonly s: SqliteStore) {}

  async insertBatch(records: UsageRecord[]): Promise<number> {
    if (!records.length) return 0;
    const thread = this.s.usageWriter();
    if (thread) return thread.insertBatch(records.map((r) => usageValues(r, 'sqlite')));
    const insert = this.s.stmt(USAGE_INSERT);
    return this.s.transaction(() => {
      let inserted = 0;
      for (const r of records) inserted += insert.run(...usageValues(r, 'sqlite')).changes;
      return inserted;
    });
  }

  async query(q: UsageQuery): Promise<UsageRow[]> {
    const where = usageWhere(q);
    if (q.groupBy === undefined || q.groupBy === null) {
      const row = this.s.stmt(`SELECT 'all' AS grp, ${USAGE_ROW_SELECT} FROM usage_records ${where.sql}`).get(...where.params) as Row;
      return [usageRowFromRow(row)];
    }
    const expr = groupExpression(q.groupBy, DAY_SQL, HOUR_SQL);
    const page = usagePage(q);
    const rows = this.s
      .stmt(
        `SELECT ${expr} AS grp, ${USAGE_ROW_SELECT} FROM usage_records ${where.sql}
         GROUP BY grp ORDER BY grp ASC NULLS LAST${page.sql}`,
      )
      .all(...where.params, ...page.params) as Row[];
    return rows.map(usageRowFromRow);
  }

  async summary(filter: { keyId?: string; team?: string } = {}): Promise<UsageSummary> {
    const where = usageWhere({ keyId: filter.keyId, team: filter.team });
    const totals = this.s
      .stmt(`SELECT COUNT(*) AS n, AVG(duration_ms) AS avg_ms, MAX(time) AS last FROM usage_records ${where.sql}`)
      .get(...where.params) as Row;
    const byProvider = this.s
      .stmt(
        `SELECT COALESCE(provider, 'none') AS provider, COUNT(*) AS n FROM usage_records ${where.sql}
         GROUP BY COALESCE(provider, 'none') ORDER BY 1`,
      )
      .all(...where.params) as Row[];
    const requestsByProvider: Record<string, number> = {};
    for (const r of byProvider) requestsByProvider[String(r.provider)] = num(r.n);
    return {
      totalRequests: num(totals.n),
      requestsByProvider,
      averageResponseMs: round2(totals.avg_ms),
      lastUpdated: numOrNull(totals.last),
    };
  }

  async totalsForKey(keyId: string, since?: number): Promise<UsageTotals> {
    const where = usageWhere({ keyId, start: since });
    const row = this.s.stmt(`SELECT ${USAGE_TOTALS_SELECT} FROM usage_records ${where.sql}`).get(...where.params) as Row;
    return usageTotalsFromRow(row);
  }

  async count(): Promise<number> {
    const row = this.s.stmt('SELECT COUNT(*) AS n FROM usage_records').get() as Row;
    return num(row.n);
  }
}

class SqliteProviderStore implements ProviderStore {
  constructor(private readonly s: SqliteStore) {}

  async list(): Promise<ProviderRecord[]> {
    // SQLite's default BINARY collation: byte order.
    const rows = this.s.stmt('SELECT * FROM providers ORDER BY name').all() as Row[];
    return rows.map(providerFromRow);
  }

  async get(name: string): Promise<ProviderRecord | undefined> {
    const row = this.s.stmt('SELECT * FROM providers WHERE name = ?').get(name) as Row | undefined;
    return row ? providerFromRow(row) : undefined;
  }

  async upsert(rec: ProviderRecord): Promise<void> {
    this.s.stmt(PROVIDER_UPSERT).run(...providerValues(rec));
  }

  async delete(name: string): Promise<boolean> {
    return this.s.stmt('DELETE FROM providers WHERE name = ?').run(name).changes > 0;
  }
}

class SqliteAuditStore implements AuditStore {
  constructor(private readonly s: SqliteStore) {}

  async append(records: AuditRecord[]): Promise<number> {
    if (!records.length) return 0;
    const insert = this.s.stmt(AUDIT_INSERT);
    return this.s.transaction(() => {
      let inserted = 0;
      for (const r of records) inserted += insert.run(...auditValues(r)).changes;
      return inserted;
    });
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = auditSelect(q, '');
    return (this.s.stmt(sql).all(...params) as Row[]).map(auditFromRow);
  }
}

class SqliteSettingsStore implements SettingsStore {
  constructor(private readonly s: SqliteStore) {}

  async get(): Promise<StoredSettings | undefined> {
    const row = this.s.stmt('SELECT value, version FROM security_settings WHERE id = 1').get() as Row | undefined;
    return row ? settingsFromRow(row) : undefined;
  }

  async put(value: SecuritySettings, expectedVersion?: number): Promise<number> {
    const doc = JSON.stringify(value);
    const now = Date.now();
    let row: Row | undefined;
    if (expectedVersion === undefined) {
      row = this.s
        .stmt(
          `INSERT INTO security_settings (id, value, version, updated_at) VALUES (1, ?, 1, ?)
           ON CONFLICT (id) DO UPDATE SET value = excluded.value, version = security_settings.version + 1, updated_at = excluded.updated_at
           RETURNING version`,
        )
        .get(doc, now) as Row | undefined;
    } else if (expectedVersion === 0) {
      row = this.s
        .stmt('INSERT INTO security_settings (id, value, version, updated_at) VALUES (1, ?, 1, ?) ON CONFLICT (id) DO NOTHING RETURNING version')
        .get(doc, now) as Row | undefined;
    } else {
      row = this.s
        .stmt('UPDATE security_settings SET value = ?, version = version + 1, updated_at = ? WHERE id = 1 AND version = ? RETURNING version')
        .get(doc, now, expectedVersion) as Row | undefined;
    }
    if (!row) throw new StoreConflictError(`security settings: version ${expectedVersion} is no longer current`);
    return num(row.version);
  }
}
