/**
 * The gateway's persistent state, behind one interface with two implementations: an embedded
 * SQLite file (default) and PostgreSQL (when DATABASE_URL is set, shared by many replicas).
 * Both run the same migrations and pass the same test suite (test/store/store-suite.ts).
 */

import type { SecuritySettings, UsageRecord, UsageTotals } from '../domain';

export type { UsageRecord, UsageTotals };

export type KeyTier = 'standard' | 'langchain';

/** `api`: created through the keys API; `file`: keys.json; `config`: the gateway configuration. */
export type KeySource = 'api' | 'file' | 'config';
/** The sources an import at start manages; API-created keys are never touched by one. */
export type ImportedKeySource = Exclude<KeySource, 'api'>;

export interface VirtualKeyRecord {
  /** Public identifier: `key_…` for API-created keys, derived from the digest (or the configured id) for imported ones. */
  id: string;
  /** SHA-256 hex digest of the secret key; the secret itself is never stored. */
  hash: string;
  /** First characters of the secret, for people to recognise a key (`sk-gw-Ab12…`). */
  prefix: string;
  name: string | null;
  user: string | null;
  team: string | null;
  tier: KeyTier;
  /** Roles: `completion`, `embedding`, `admin`. */
  roles: string[];
  /** Provider this key's credential belongs to (keys.json `provider`). */
  provider: string | null;
  /**
   * The real provider credential: `env:NAME`, or `enc:v1:…` (AES-256-GCM ciphertext made by
   * src/keys/secrets.ts). Stores treat it as an opaque string.
   */
  providerKey: string | null;
  allowedModels: string[] | null;
  allowedProviders: string[] | null;
  /** Requests per hour; null = the gateway default (QUOTA_LIMIT). */
  quotaLimit: number | null;
  tokenBudget: number | null;
  budgetUsd: number | null;
  /** Epoch milliseconds. */
  expiresAt: number | null;
  revokedAt: number | null;
  metadata: Record<string, unknown>;
  /** Where the key came from: `api`, `file` (keys.json) or `config`. */
  source: KeySource;
  createdAt: number;
  updatedAt: number;
}

/** Fields an update may change (id, hash, prefix, source and createdAt are fixed). */
export type VirtualKeyPatch = Partial<
  Pick<
    VirtualKeyRecord,
    | 'name'
    | 'user'
    | 'team'
    | 'tier'
    | 'roles'
    | 'provider'
    | 'providerKey'
    | 'allowedModels'
    | 'allowedProviders'
    | 'quotaLimit'
    | 'tokenBudget'
    | 'budgetUsd'
    | 'expiresAt'
    | 'metadata'
  >
>;


export type UsageGroupBy = 'key' | 'user' | 'team' | 'model' | 'provider' | 'endpoint' | 'day' | 'hour';

export interface UsageQuery {
  /** Inclusive lower bound, epoch ms. */
  start?: number;
  /** Exclusive upper bound, epoch ms. */
  end?: number;
  groupBy?: UsageGroupBy;
  /** Restrict to one key (a key holder sees only its own usage). */
  keyId?: string;
  /** Restrict to one team (data isolation). */
  team?: string;
  /** Restrict to one provider. */
  provider?: string;
  /** Restrict to one model (the one served, else the one requested, as groupBy `model`). */
  model?: string;
  /** With groupBy: at most this many groups, in the query's order (by group, nulls last). */
  limit?: number;
  /** With groupBy: skip this many groups first (the rows of earlier pages). */
  offset?: number;
}


export interface UsageRow extends UsageTotals {
  /** Requests answered with an error status (400 and up). */
  errors: number;
  /** The group's value (`day` is `YYYY-MM-DD`, `hour` `YYYY-MM-DDTHH:00:00Z`, both UTC); null when the record had none; `all` without groupBy. */
  group: string | null;
}

export interface UsageSummary {
  totalRequests: number;
  requestsByProvider: Record<string, number>;
  averageResponseMs: number;
  /** Epoch ms of the newest record, or null when there is none. */
  lastUpdated: number | null;
}

export interface KeyListFilter {
  team?: string;
  limit?: number;
  /** The position of the previous page's last key: its createdAt and id. */
  after?: { createdAt: number; id: string };
}

export interface KeyStore {
  /** Fails with StoreConflictError if the id or hash already exists. */
  insert(rec: VirtualKeyRecord): Promise<void>;
  /**
   * Imports a key from keys.json or the configuration at start: inserts it, or updates the stored
   * key with the same id (createdAt kept). Never clears revokedAt: a revoked key, and a key created
   * through the API, are left exactly as they are (returns false then). StoreConflictError when
   * another id holds the hash.
   */
  importKey(rec: VirtualKeyRecord): Promise<boolean>;
  getById(id: string): Promise<VirtualKeyRecord | undefined>;
  getByHash(hash: string): Promise<VirtualKeyRecord | undefined>;
  /**
   * Newest first (createdAt descending, then id in byte order); revoked keys included (they show
   * revokedAt). With `limit`, at most that many; with `after`, only the keys that follow that
   * position in this order (a page's last key): the listing pages in the query itself.
   */
  list(filter?: KeyListFilter): Promise<VirtualKeyRecord[]>;
  /** Returns the updated record, or undefined when the id does not exist. */
  update(id: string, patch: VirtualKeyPatch, now: number): Promise<VirtualKeyRecord | undefined>;
  /** Sets revokedAt (once); returns false when the id does not exist. */
  revoke(id: string, now: number): Promise<boolean>;
  /** Revokes the active keys of `source` whose id is not in `keep`; returns their ids. */
  revokeUnlisted(source: ImportedKeySource, keep: readonly string[], now: number): Promise<string[]>;
}

export interface UsageStore {
  /** Idempotent on id; returns how many records were new. */
  insertBatch(records: UsageRecord[]): Promise<number>;
  query(q: UsageQuery): Promise<UsageRow[]>;
  summary(filter?: { keyId?: string; team?: string }): Promise<UsageSummary>;
  /** Totals for one key since a time (budgets); start inclusive, epoch ms. */
  totalsForKey(keyId: string, since?: number): Promise<UsageTotals>;
  count(): Promise<number>;
}

/** A provider added through the providers API (configuration-file providers are not stored). */
export interface ProviderRecord {
  name: string;
  type: string;
  baseUrl: string;
  /** `env:NAME`, or `enc:v1:…` sealed by src/keys/secrets.ts, or null (no credential). */
  apiKey: string | null;
  models: string[];
  headers: Record<string, string>;
  timeoutSeconds: number;
  createdAt: number;
  updatedAt: number;
}

export interface ProviderStore {
  /** Sorted by name. */
  list(): Promise<ProviderRecord[]>;
  get(name: string): Promise<ProviderRecord | undefined>;
  /** Insert or replace by name, keeping the existing createdAt. */
  upsert(rec: ProviderRecord): Promise<void>;
  /** Returns false when the name does not exist. */
  delete(name: string): Promise<boolean>;
}

/** An upstream MCP server added through /v1/mcp/servers (configured ones are not stored). */
export interface McpServerRecord {
  name: string;
  url: string;
  transport: 'streamable-http' | 'sse';
  headers: Record<string, string>;
  /** `env:NAME`, or `enc:v1:…` sealed by src/keys/secrets.ts, or null (no credential). */
  credential: string | null;
  credentialHeader: string;
  timeoutSeconds: number;
  createdAt: number;
  updatedAt: number;
}

export interface McpServerStore {
  /** Sorted by name. */
  list(): Promise<McpServerRecord[]>;
  /** Insert or replace by name, keeping the existing createdAt. */
  upsert(rec: McpServerRecord): Promise<void>;
  /** Returns false when the name does not exist. */
  delete(name: string): Promise<boolean>;
}

/**
 * An MCP access rule added through /v1/mcp/access (configured ones are not stored): who
 * (`keys`, `teams`, `identities`; none: everyone) may use which servers and tools (globs).
 */
export interface McpAccessRuleRecord {
  /** Minted by the gateway (`mcpa_…`). */
  id: string;
  keys: string[] | null;
  teams: string[] | null;
  identities: string[] | null;
  servers: string[];
  tools: string[];
  description: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface McpAccessRuleStore {
  /** Oldest first. */
  list(): Promise<McpAccessRuleRecord[]>;
  /** Insert or replace by id, keeping the existing createdAt. */
  upsert(rec: McpAccessRuleRecord): Promise<void>;
  /** Returns false when the id does not exist. */
  delete(id: string): Promise<boolean>;
}

/** One append-only audit record (src/security/audit.ts). Never a secret or offending content. */
export interface AuditRecord {
  /** Unique (`aud_…`), made by the writer; appending the same id twice stores it once. */
  id: string;
  /** Epoch milliseconds. */
  time: number;
  actorKeyId: string | null;
  /** The caller's identity: a key's user, a JWT subject, a certificate identity. */
  actorIdentity: string | null;
  actorTeam: string | null;
  /** e.g. `key.created`, `admin.login_failed`, `security_config.changed`. */
  action: string;
  target: string | null;
  /** `success`, `failure` or `denied`. */
  outcome: string;
  /** Envoy's x-request-id of the request that caused it. */
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** Inclusive lower bound, epoch ms. */
  start?: number;
  /** Exclusive upper bound, epoch ms. */
  end?: number;
  /** Exact action. */
  action?: string;
  /** Records whose actor belongs to this team (data isolation). */
  team?: string;
  requestId?: string;
  /** Only records after this one in the listing's order (newest first): the next page. */
  before?: { time: number; id: string };
  /** Most records returned, newest first. */
  limit: number;
}

/** Append-only: there is deliberately no update or delete. */
export interface AuditStore {
  /** Idempotent on id; returns how many records were new. */
  append(records: AuditRecord[]): Promise<number>;
  /** Newest first (time, then id, descending). */
  query(q: AuditQuery): Promise<AuditRecord[]>;
}

/** The runtime security settings every replica applies, with a version bumped on each change. */
export interface StoredSettings {
  value: SecuritySettings;
  /** 1 for the first stored value, +1 per put. */
  version: number;
}

export interface SettingsStore {
  get(): Promise<StoredSettings | undefined>;
  /**
   * Stores new settings and returns the new version. With `expectedVersion`, only if the stored
   * version is still that one (0: only if nothing is stored yet); otherwise StoreConflictError.
   */
  put(value: SecuritySettings, expectedVersion?: number): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly providers: ProviderStore;
  readonly mcpServers: McpServerStore;
  readonly mcpAccess: McpAccessRuleStore;
  readonly audit: AuditStore;
  readonly settings: SettingsStore;
  /** Applies pending migrations; safe to run concurrently from several replicas. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}
