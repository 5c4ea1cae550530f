/**
 * The store's schema: versioned migrations shared by SQLite and PostgreSQL, and the mapping between
 * the tables' snake_case columns and the camelCase records of ./types.
 *
 * Migrations are applied in version order, each recorded in `schema_migrations`, by the dialect's
 * runner (SqliteStore.migrate / PostgresStore.migrate) inside one locked transaction. To change the
 * schema, append a migration with the next version; never edit one that has shipped.
 *
 * The SQL is one text for both dialects: column types that differ are taken from COLUMN_TYPES
 * (`${t.json}`, …), and a migration that cannot be written that way lists its per-dialect
 * statements under `sqlite` / `postgres`, run after the shared ones.
 */
import type { ExchangeOutcome, SecuritySettings } from '../domain';
import type { AuditQuery, AuditRecord, McpServerRecord, ProviderRecord, StoredSettings, UsageGroupBy, UsageRecord, UsageRow, VirtualKeyPatch, VirtualKeyRecord } from './types';

export type Dialect = 'sqlite' | 'postgres';

/** The column types that differ between the dialects; everything else is spelled the same. */
export interface ColumnTypes {
  /** 64-bit integers: epoch milliseconds, budgets. */
  bigint: string;
  /** Floating point: costs, durations. */
  double: string;
  /** true/false; SQLite stores 1/0. */
  bool: string;
  /** A JSON document (arrays, metadata). */
  json: string;
}

export const COLUMN_TYPES: Readonly<Record<Dialect, ColumnTypes>> = {
  sqlite: { bigint: 'INTEGER', double: 'REAL', bool: 'INTEGER', json: 'TEXT' },
  postgres: { bigint: 'BIGINT', double: 'DOUBLE PRECISION', bool: 'BOOLEAN', json: 'JSONB' },
};

export interface Migration {
  /** Strictly increasing, starting at 1. */
  version: number;
  name: string;
  /** Statements for both dialects, written with the dialect's column types. */
  up: (t: ColumnTypes) => string[];
  /** Extra statements for one dialect only, run after `up`. Keep these rare and small. */
  sqlite?: string[];
  postgres?: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'virtual_keys and usage_records',
    up: (t) => [
      `CREATE TABLE virtual_keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        prefix TEXT NOT NULL,
        name TEXT,
        user_id TEXT,
        team TEXT,
        tier TEXT NOT NULL,
        roles ${t.json} NOT NULL,
        provider TEXT,
        provider_key TEXT,
        allowed_models ${t.json},
        allowed_providers ${t.json},
        quota_limit ${t.bigint},
        token_budget ${t.bigint},
        budget_usd ${t.double},
        expires_at ${t.bigint},
        revoked_at ${t.bigint},
        metadata ${t.json} NOT NULL,
        source TEXT NOT NULL,
        created_at ${t.bigint} NOT NULL,
        updated_at ${t.bigint} NOT NULL
      )`,
      'CREATE UNIQUE INDEX virtual_keys_hash_idx ON virtual_keys (hash)',
      'CREATE INDEX virtual_keys_team_idx ON virtual_keys (team)',
      `CREATE TABLE usage_records (
        request_id TEXT PRIMARY KEY,
        time ${t.bigint} NOT NULL,
        key_id TEXT,
        user_id TEXT,
        team TEXT,
        tier TEXT,
        endpoint TEXT NOT NULL,
        api TEXT NOT NULL,
        provider TEXT,
        model_requested TEXT,
        model_served TEXT,
        prompt_tokens ${t.bigint} NOT NULL,
        completion_tokens ${t.bigint} NOT NULL,
        cached_tokens ${t.bigint} NOT NULL,
        reasoning_tokens ${t.bigint} NOT NULL,
        total_tokens ${t.bigint} NOT NULL,
        cost_usd ${t.double} NOT NULL,
        duration_ms ${t.double} NOT NULL,
        ttft_ms ${t.double},
        status INTEGER NOT NULL,
        streamed ${t.bool} NOT NULL
      )`,
      'CREATE INDEX usage_records_time_idx ON usage_records (time)',
      'CREATE INDEX usage_records_key_time_idx ON usage_records (key_id, time)',
      'CREATE INDEX usage_records_team_time_idx ON usage_records (team, time)',
    ],
  },
  {
    version: 2,
    name: 'providers',
    up: (t) => [
      `CREATE TABLE providers (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        base_url TEXT NOT NULL,
        api_key TEXT,
        models ${t.json} NOT NULL,
        headers ${t.json} NOT NULL,
        timeout_seconds ${t.double} NOT NULL,
        created_at ${t.bigint} NOT NULL,
        updated_at ${t.bigint} NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'audit_records and security_settings',
    up: (t) => [
      `CREATE TABLE audit_records (
        id TEXT PRIMARY KEY,
        time ${t.bigint} NOT NULL,
        actor_key_id TEXT,
        actor_identity TEXT,
        actor_team TEXT,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        request_id TEXT,
        details ${t.json} NOT NULL
      )`,
      'CREATE INDEX audit_records_time_idx ON audit_records (time)',
      'CREATE INDEX audit_records_action_time_idx ON audit_records (action, time)',
      'CREATE INDEX audit_records_team_time_idx ON audit_records (actor_team, time)',
      'CREATE INDEX audit_records_request_idx ON audit_records (request_id)',
      // One row (id 1): the settings every replica applies, versioned for optimistic updates.
      `CREATE TABLE security_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value ${t.json} NOT NULL,
        version ${t.bigint} NOT NULL,
        updated_at ${t.bigint} NOT NULL
      )`,
    ],
    // Append-only in the database too, not just in the API: changing or removing audit records
    // takes a deliberate schema change (dropping these triggers), never a stray statement.
    sqlite: [
      "CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END",
      "CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END",
    ],
    postgres: [
      `CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$`,
      'CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()',
      'CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only()',
    ],
  },
  {
    version: 4,
    name: 'usage_records keyed on the gateway exchange id',
    // The old key was Envoy's x-request-id, which a client may set: records keep it as a
    // correlation field, and the key becomes the id the gateway mints for every request.
    up: () => [
      'ALTER TABLE usage_records RENAME COLUMN request_id TO id',
      'ALTER TABLE usage_records ADD COLUMN request_id TEXT',
      'ALTER TABLE usage_records ADD COLUMN outcome TEXT',
      'UPDATE usage_records SET request_id = id',
      'CREATE INDEX usage_records_request_idx ON usage_records (request_id)',
    ],
  },
  {
    version: 5,
    name: 'usage_records cached flag',
    // Requests the response cache answered: false for every record written before.
    up: () => [],
    sqlite: ['ALTER TABLE usage_records ADD COLUMN cached INTEGER NOT NULL DEFAULT 0'],
    postgres: ['ALTER TABLE usage_records ADD COLUMN cached BOOLEAN NOT NULL DEFAULT FALSE'],
  },
  {
    version: 6,
    name: 'mcp_servers',
    // Upstream MCP servers added through /v1/mcp/servers (src/mcp); credentials sealed or env:NAME.
    up: (t) => [
      `CREATE TABLE mcp_servers (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        transport TEXT NOT NULL,
        headers ${t.json} NOT NULL,
        credential TEXT,
        credential_header TEXT NOT NULL,
        timeout_seconds ${t.double} NOT NULL,
        created_at ${t.bigint} NOT NULL,
        updated_at ${t.bigint} NOT NULL
      )`,
    ],
  },
  {
    version: 7,
    name: 'mcp_access_rules',
    // MCP access rules added through /v1/mcp/access (src/mcp/access.ts); JSON arrays of globs.
    up: (t) => [
      `CREATE TABLE mcp_access_rules (
        id TEXT PRIMARY KEY,
        keys ${t.json},
        teams ${t.json},
        identities ${t.json},
        servers ${t.json} NOT NULL,
        tools ${t.json} NOT NULL,
        description TEXT,
        created_at ${t.bigint} NOT NULL,
        updated_at ${t.bigint} NOT NULL
      )`,
    ],
  },
];

/** The statements of one migration for one dialect, in order. */
export function migrationStatements(m: Migration, dialect: Dialect): string[] {
  return [...m.up(COLUMN_TYPES[dialect]), ...(m[dialect] ?? [])];
}

/** Migrations not yet in `applied`, in version order. */
export function pendingMigrations(applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version));
}

// The list is code: check it once at load, so a bad edit fails every test rather than a deploy.
MIGRATIONS.forEach((m, i) => {
  if (m.version !== i + 1) throw new Error(`store migrations: version ${m.version} at position ${i + 1}, expected ${i + 1}`);
});

/** `CREATE TABLE schema_migrations`, the same in both dialects. */
export const SCHEMA_MIGRATIONS_DDL = (t: ColumnTypes): string =>
  `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at ${t.bigint} NOT NULL
  )`;

// ---------------------------------------------------------------------------------------------
// Records <-> rows. The column lists below describe the schema after the latest migration.

/** virtual_keys columns, in the order keyValues() returns values. */
export const KEY_COLUMNS = [
  'id',
  'hash',
  'prefix',
  'name',
  'user_id',
  'team',
  'tier',
  'roles',
  'provider',
  'provider_key',
  'allowed_models',
  'allowed_providers',
  'quota_limit',
  'token_budget',
  'budget_usd',
  'expires_at',
  'revoked_at',
  'metadata',
  'source',
  'created_at',
  'updated_at',
] as const;

/**
 * The conflict clause of a key import (KeyStore.importKey): an import updates a stored key but never
 * its id, creation time or revocation, and never a revoked key or one created through the API. One
 * statement, so a replica importing at start cannot undo a revocation made meanwhile elsewhere.
 */
export const KEY_IMPORT_CONFLICT = `ON CONFLICT (id) DO UPDATE SET ${KEY_COLUMNS.filter((c) => c !== 'id' && c !== 'created_at' && c !== 'revoked_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}
  WHERE virtual_keys.revoked_at IS NULL AND virtual_keys.source <> 'api'
  RETURNING id`;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** A record's column values, in KEY_COLUMNS order (JSON fields as JSON text, for both dialects). */
export function keyValues(r: VirtualKeyRecord): unknown[] {
  return [
    r.id,
    r.hash,
    r.prefix,
    r.name,
    r.user,
    r.team,
    r.tier,
    json(r.roles ?? []),
    r.provider,
    r.providerKey,
    json(r.allowedModels),
    json(r.allowedProviders),
    r.quotaLimit,
    r.tokenBudget,
    r.budgetUsd,
    r.expiresAt,
    r.revokedAt,
    json(r.metadata ?? {}),
    r.source,
    r.createdAt,
    r.updatedAt,
  ];
}

/**
 * The fields an update may change, each mapped to its column: an update walks this fixed table,
 * never the patch's own keys, so only these columns can ever appear in its SQL.
 */
export const PATCH_COLUMNS: ReadonlyArray<{ field: keyof VirtualKeyPatch; column: string; json?: boolean }> = [
  { field: 'name', column: 'name' },
  { field: 'user', column: 'user_id' },
  { field: 'team', column: 'team' },
  { field: 'tier', column: 'tier' },
  { field: 'roles', column: 'roles', json: true },
  { field: 'provider', column: 'provider' },
  { field: 'providerKey', column: 'provider_key' },
  { field: 'allowedModels', column: 'allowed_models', json: true },
  { field: 'allowedProviders', column: 'allowed_providers', json: true },
  { field: 'quotaLimit', column: 'quota_limit' },
  { field: 'tokenBudget', column: 'token_budget' },
  { field: 'budgetUsd', column: 'budget_usd' },
  { field: 'expiresAt', column: 'expires_at' },
  { field: 'metadata', column: 'metadata', json: true },
];

/** The columns and values a patch sets, in PATCH_COLUMNS order; undefined fields are left out. */
export function patchAssignments(patch: VirtualKeyPatch): Array<{ column: string; value: unknown }> {
  const out: Array<{ column: string; value: unknown }> = [];
  for (const { field, column, json: isJson } of PATCH_COLUMNS) {
    const value = patch[field];
    if (value === undefined) continue;
    if (field === 'roles' || field === 'metadata') {
      // Never null in the schema: a null patch resets them to empty.
      out.push({ column, value: json(value ?? (field === 'roles' ? [] : {})) });
    } else {
      out.push({ column, value: isJson ? json(value) : value });
    }
  }
  return out;
}

/** A number column as a JS number: pg returns BIGINT and NUMERIC as strings. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  if (v === null || v === undefined) return 0;
  return Number(v);
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

/** A JSON column: text in SQLite (and in PG's TEXT), already parsed from PG's JSONB. */
function parseJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return JSON.parse(v) as unknown;
  return v;
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function keyFromRow(row: Record<string, unknown>): VirtualKeyRecord {
  return {
    id: String(row.id),
    hash: String(row.hash),
    prefix: String(row.prefix),
    name: str(row.name),
    user: str(row.user_id),
    team: str(row.team),
    tier: String(row.tier) as VirtualKeyRecord['tier'],
    roles: (parseJson(row.roles) as string[] | null) ?? [],
    provider: str(row.provider),
    providerKey: str(row.provider_key),
    allowedModels: parseJson(row.allowed_models) as string[] | null,
    allowedProviders: parseJson(row.allowed_providers) as string[] | null,
    quotaLimit: numOrNull(row.quota_limit),
    tokenBudget: numOrNull(row.token_budget),
    budgetUsd: numOrNull(row.budget_usd),
    expiresAt: numOrNull(row.expires_at),
    revokedAt: numOrNull(row.revoked_at),
    metadata: (parseJson(row.metadata) as Record<string, unknown> | null) ?? {},
    source: String(row.source) as VirtualKeyRecord['source'],
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** usage_records columns, in the order usageValues() returns values. */
export const USAGE_COLUMNS = [
  'id',
  'request_id',
  'time',
  'key_id',
  'user_id',
  'team',
  'tier',
  'endpoint',
  'api',
  'provider',
  'model_requested',
  'model_served',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'total_tokens',
  'cost_usd',
  'duration_ms',
  'ttft_ms',
  'status',
  'streamed',
  'outcome',
  'cached',
] as const;

/** A usage record's column values, in USAGE_COLUMNS order; `streamed` and `cached` as the dialect stores them. */
export function usageValues(r: UsageRecord, dialect: Dialect): unknown[] {
  return [
    r.id,
    r.requestId ?? null,
    r.time,
    r.keyId ?? null,
    r.user ?? null,
    r.team ?? null,
    r.tier ?? null,
    r.endpoint,
    r.api,
    r.provider ?? null,
    r.modelRequested ?? null,
    r.modelServed ?? null,
    r.promptTokens ?? 0,
    r.completionTokens ?? 0,
    r.cachedTokens ?? 0,
    r.reasoningTokens ?? 0,
    r.totalTokens ?? 0,
    r.costUsd ?? 0,
    r.durationMs ?? 0,
    r.ttftMs ?? null,
    r.status,
    dialect === 'sqlite' ? (r.streamed ? 1 : 0) : Boolean(r.streamed),
    r.outcome ?? null,
    dialect === 'sqlite' ? (r.cached ? 1 : 0) : Boolean(r.cached),
  ];
}

export function usageFromRow(row: Record<string, unknown>): UsageRecord {
  return {
    id: String(row.id),
    requestId: str(row.request_id),
    time: num(row.time),
    keyId: str(row.key_id),
    user: str(row.user_id),
    team: str(row.team),
    tier: str(row.tier),
    endpoint: String(row.endpoint),
    api: String(row.api),
    provider: str(row.provider),
    modelRequested: str(row.model_requested),
    modelServed: str(row.model_served),
    promptTokens: num(row.prompt_tokens),
    completionTokens: num(row.completion_tokens),
    cachedTokens: num(row.cached_tokens),
    reasoningTokens: num(row.reasoning_tokens),
    totalTokens: num(row.total_tokens),
    costUsd: num(row.cost_usd),
    durationMs: num(row.duration_ms),
    ttftMs: numOrNull(row.ttft_ms),
    status: num(row.status),
    streamed: row.streamed === true || row.streamed === 1 || row.streamed === 't',
    outcome: str(row.outcome) as ExchangeOutcome | null,
    // Only set when true: `cached` is absent on the records of requests that went upstream.
    ...(row.cached === true || row.cached === 1 || row.cached === 't' ? { cached: true } : {}),
  };
}

/** providers columns, in the order providerValues() returns values. */
export const PROVIDER_COLUMNS = [
  'name',
  'type',
  'base_url',
  'api_key',
  'models',
  'headers',
  'timeout_seconds',
  'created_at',
  'updated_at',
] as const;

/** A provider's column values, in PROVIDER_COLUMNS order (JSON fields as JSON text, for both dialects). */
export function providerValues(r: ProviderRecord): unknown[] {
  return [
    r.name,
    r.type,
    r.baseUrl,
    r.apiKey ?? null,
    json(r.models ?? []),
    json(r.headers ?? {}),
    r.timeoutSeconds,
    r.createdAt,
    r.updatedAt,
  ];
}

export function providerFromRow(row: Record<string, unknown>): ProviderRecord {
  return {
    name: String(row.name),
    type: String(row.type),
    baseUrl: String(row.base_url),
    apiKey: str(row.api_key),
    models: (parseJson(row.models) as string[] | null) ?? [],
    headers: (parseJson(row.headers) as Record<string, string> | null) ?? {},
    timeoutSeconds: num(row.timeout_seconds),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** mcp_servers columns, in the order mcpServerValues() returns values. */
export const MCP_SERVER_COLUMNS = ['name', 'url', 'transport', 'headers', 'credential', 'credential_header', 'timeout_seconds', 'created_at', 'updated_at'] as const;

export function mcpServerValues(r: McpServerRecord): unknown[] {
  return [r.name, r.url, r.transport, json(r.headers ?? {}), r.credential ?? null, r.credentialHeader, r.timeoutSeconds, r.createdAt, r.updatedAt];
}

export function mcpServerFromRow(row: Record<string, unknown>): McpServerRecord {
  return {
    name: String(row.name),
    url: String(row.url),
    transport: row.transport === 'sse' ? 'sse' : 'streamable-http',
    headers: (parseJson(row.headers) as Record<string, string> | null) ?? {},
    credential: str(row.credential),
    credentialHeader: String(row.credential_header),
    timeoutSeconds: num(row.timeout_seconds),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

// ---------------------------------------------------------------------------------------------
// Usage aggregation, shared by both dialects' query().

export const USAGE_GROUP_BY: readonly UsageGroupBy[] = ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour'];

/**
 * The SQL expression a groupBy value groups on, from a fixed table; anything else throws. `day`
 * and `hour` are dialect-specific and passed in by the caller.
 */
export function groupExpression(groupBy: unknown, dayExpression: string, hourExpression: string): string {
  switch (groupBy) {
    case 'key':
      return 'key_id';
    case 'user':
      return 'user_id';
    case 'team':
      return 'team';
    case 'model':
      return 'COALESCE(model_served, model_requested)';
    case 'provider':
      return 'provider';
    case 'endpoint':
      return 'endpoint';
    case 'day':
      return dayExpression;
    case 'hour':
      return hourExpression;
    default:
      throw new Error(`invalid usage groupBy ${JSON.stringify(groupBy)}: expected one of ${USAGE_GROUP_BY.join(', ')}`);
  }
}

/** The aggregate columns of query() and totalsForKey(), aliased as in usageTotalsFromRow. */
export const USAGE_TOTALS_SELECT = `COUNT(*) AS requests,
  COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
  COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
  COALESCE(SUM(cached_tokens), 0) AS cached_tokens,
  COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens,
  COALESCE(SUM(total_tokens), 0) AS total_tokens,
  COALESCE(SUM(cost_usd), 0) AS cost_usd`;

/** query()'s columns: the totals and the number of requests answered with an error (status 400 and up). */
export const USAGE_ROW_SELECT = `${USAGE_TOTALS_SELECT},
  COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS errors`;

/**
 * LIMIT/OFFSET of a grouped query, after its ORDER BY (the group is unique, so the order is total
 * and pages neither overlap nor skip). Placeholders, not literals: one prepared statement for
 * every page, and only checked integers as values.
 */
export function usagePage(q: { limit?: number; offset?: number }): { sql: string; params: number[] } {
  const { limit, offset } = q;
  if (limit === undefined && offset === undefined) return { sql: '', params: [] };
  for (const [name, v] of [['limit', limit], ['offset', offset]] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new Error(`invalid usage ${name} ${JSON.stringify(v)}: expected a non-negative integer`);
  }
  // No limit: a bound no report reaches (SQLite's LIMIT -1 and PostgreSQL's LIMIT ALL differ).
  return { sql: ' LIMIT ? OFFSET ?', params: [limit ?? Number.MAX_SAFE_INTEGER, offset ?? 0] };
}

/** A row of query(): its group (`grp`), totals and errors. */
export function usageRowFromRow(row: Record<string, unknown>): UsageRow {
  const grp = row.grp;
  return { group: grp === null || grp === undefined ? null : String(grp), ...usageTotalsFromRow(row), errors: num(row.errors) };
}

export function usageTotalsFromRow(row: Record<string, unknown>) {
  return {
    requests: num(row.requests),
    promptTokens: num(row.prompt_tokens),
    completionTokens: num(row.completion_tokens),
    cachedTokens: num(row.cached_tokens),
    reasoningTokens: num(row.reasoning_tokens),
    totalTokens: num(row.total_tokens),
    costUsd: num(row.cost_usd),
  };
}

/**
 * The WHERE clause for a usage filter, with `?` placeholders and the values in order; the caller
 * renumbers the placeholders for its dialect. Conditions are fixed fragments; only values vary.
 */
export function usageWhere(f: { start?: number; end?: number; keyId?: string; team?: string; provider?: string; model?: string }): {
  sql: string;
  params: unknown[];
} {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (f.start !== undefined && f.start !== null) {
    conds.push('time >= ?');
    params.push(f.start);
  }
  if (f.end !== undefined && f.end !== null) {
    conds.push('time < ?');
    params.push(f.end);
  }
  if (f.keyId !== undefined && f.keyId !== null) {
    conds.push('key_id = ?');
    params.push(f.keyId);
  }
  if (f.team !== undefined && f.team !== null) {
    conds.push('team = ?');
    params.push(f.team);
  }
  if (f.provider !== undefined && f.provider !== null) {
    conds.push('provider = ?');
    params.push(f.provider);
  }
  if (f.model !== undefined && f.model !== null) {
    conds.push('COALESCE(model_served, model_requested) = ?');
    params.push(f.model);
  }
  return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
}

/** Rounds an average for summary(): two decimals, 0 when there is none. */
export function round2(v: unknown): number {
  const n = num(v);
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : 0;
}

// ---------------------------------------------------------------------------------------------
// Audit records and security settings, shared by both dialects.

/** audit_records columns, in the order auditValues() returns values. */
export const AUDIT_COLUMNS = [
  'id',
  'time',
  'actor_key_id',
  'actor_identity',
  'actor_team',
  'action',
  'target',
  'outcome',
  'request_id',
  'details',
] as const;

export function auditValues(r: AuditRecord): unknown[] {
  return [
    r.id,
    r.time,
    r.actorKeyId ?? null,
    r.actorIdentity ?? null,
    r.actorTeam ?? null,
    r.action,
    r.target ?? null,
    r.outcome,
    r.requestId ?? null,
    json(r.details ?? {}),
  ];
}

export function auditFromRow(row: Record<string, unknown>): AuditRecord {
  return {
    id: String(row.id),
    time: num(row.time),
    actorKeyId: str(row.actor_key_id),
    actorIdentity: str(row.actor_identity),
    actorTeam: str(row.actor_team),
    action: String(row.action),
    target: str(row.target),
    outcome: String(row.outcome),
    requestId: str(row.request_id),
    details: (parseJson(row.details) as Record<string, unknown> | null) ?? {},
  };
}

/**
 * The SELECT of an audit query, with `?` placeholders and the values in order (the caller
 * renumbers them for its dialect). Conditions are fixed fragments; only values vary.
 */
export function auditSelect(q: AuditQuery, collate: string): { sql: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, value: unknown) => {
    if (value === undefined || value === null) return;
    conds.push(cond);
    params.push(value);
  };
  add('time >= ?', q.start);
  add('time < ?', q.end);
  add('action = ?', q.action);
  add('actor_team = ?', q.team);
  add('request_id = ?', q.requestId);
  if (q.before) {
    // Keyset paging in the listing's order (time, then id): stable while records are added.
    conds.push(`(time < ? OR (time = ? AND id ${collate} < ?))`);
    params.push(q.before.time, q.before.time, q.before.id);
  }
  const limit = Math.max(0, Math.min(100_000, Math.floor(Number(q.limit) || 0)));
  params.push(limit);
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  return { sql: `SELECT * FROM audit_records ${where} ORDER BY time DESC, id ${collate} DESC LIMIT ?`, params };
}

export function settingsFromRow(row: Record<string, unknown>): StoredSettings {
  return { value: parseJson(row.value) as SecuritySettings, version: num(row.version) };
}
