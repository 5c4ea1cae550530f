import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StoreConflictError, type ImportedKeySource, type KeyListFilter, type KeyStore, type KeyTier, type VirtualKeyPatch, type VirtualKeyRecord } from '../store/types';
import { withTimeout } from '../util/async';
import { checkKeySpec, parseExpiry, type KeySpec } from './schema';
import { digestsEqual, displayPrefix, generateSecret, hashSecret, tierOfSecret, TIER_PREFIX, type SecretBox } from './secrets';

export type AuthFailure = 'invalid' | 'revoked' | 'expired';
export type AuthResult = { ok: true; key: VirtualKeyRecord } | { ok: false; reason: AuthFailure };

/** A key as the admin API shows it: no hash, no provider credential. */
export interface PublicKey {
  id: string;
  prefix: string;
  name: string | null;
  user: string | null;
  team: string | null;
  tier: KeyTier;
  roles: string[];
  provider: string | null;
  has_provider_key: boolean;
  allowed_models: string[] | null;
  allowed_providers: string[] | null;
  quota_limit: number | null;
  token_budget: number | null;
  budget_usd: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  status: 'active' | 'revoked' | 'expired';
  metadata: Record<string, unknown>;
  source: string;
  created_at: string;
  updated_at: string;
}

export class KeySpecError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

const DEFAULT_ROLES = ['completion', 'embedding'];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

interface CacheEntry {
  rec: VirtualKeyRecord | undefined;
  at: number;
}

export interface KeyServiceOptions {
  /** How long a lookup may be served from memory: bounds how stale a revocation can be. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  /** A store lookup slower than this counts as failed (the request must not wait on a slow database). */
  lookupTimeoutMs?: number;
  now?: () => number;
  /** Told when the store fails and a cached answer is used instead. */
  onStoreError?: (err: Error) => void;
}

/** A change refused because the key is maintained in keys.json or the configuration, not through the API. */
export class KeyManagedError extends Error {
  constructor(
    readonly id: string,
    origin: string,
  ) {
    super(`Key '${id}' comes from ${origin} and cannot be changed through the API; change it there (applied at the next start), or revoke it.`);
  }
}

export class KeyStoreUnavailableError extends Error {
  constructor() {
    super('The key store is unavailable.');
  }
}

/**
 * Virtual keys: creation, import, lookup and revocation. Lookups go by SHA-256 digest through
 * a small bounded cache whose entries live `cacheTtlMs` (2 s by default), so a key revoked on
 * one replica stops working on every replica within that time, and on this one immediately.
 */
export class KeyService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttl: number;
  private readonly maxEntries: number;
  private readonly lookupTimeoutMs: number;
  private readonly now: () => number;
  private readonly onStoreError: (err: Error) => void;
  /** The keys file last imported, named when the API refuses to change one of its keys. */
  private keysFile: string | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly box: SecretBox,
    opts: KeyServiceOptions = {},
  ) {
    this.ttl = opts.cacheTtlMs ?? 2000;
    this.maxEntries = opts.cacheMaxEntries ?? 10000;
    this.lookupTimeoutMs = opts.lookupTimeoutMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.onStoreError = opts.onStoreError ?? (() => {});
  }

  async authenticate(secret: string): Promise<AuthResult> {
    const hash = hashSecret(secret);
    const rec = await this.lookup(hash);
    // The store matched by digest; compare again in constant time so no shortcut leaks timing.
    if (!rec || !digestsEqual(rec.hash, hash)) return { ok: false, reason: 'invalid' };
    if (rec.revokedAt !== null) return { ok: false, reason: 'revoked' };
    if (rec.expiresAt !== null && rec.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, key: rec };
  }

  private async lookup(hash: string): Promise<VirtualKeyRecord | undefined> {
    const t = this.now();
    const hit = this.cache.get(hash);
    if (hit && t - hit.at < this.ttl) return hit.rec;
    let rec: VirtualKeyRecord | undefined;
    try {
      rec = await withTimeout(this.store.getByHash(hash), this.lookupTimeoutMs, () => new Error(`store lookup took longer than ${this.lookupTimeoutMs} ms`));
    } catch (err) {
      this.onStoreError(err as Error);
      // Stale-if-error: a known key keeps working through a database outage; an unknown one
      // cannot be checked, which is an outage, not a wrong key.
      if (hit) return hit.rec;
      throw new KeyStoreUnavailableError();
    }
    this.cache.delete(hash);
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hash, { rec, at: t });
    return rec;
  }

  /** Forgets every cached lookup: another process changed keys (processor workers). */
  clearCache(): void {
    this.cache.clear();
  }

  /** The usable provider credential of a key, if it carries one. */
  providerCredential(key: VirtualKeyRecord): string | undefined {
    return this.box.resolve(key.providerKey);
  }

  /** Creates a key; the secret is returned here once and never again. */
  async create(spec: KeySpec): Promise<{ key: PublicKey; secret: string }> {
    const problem = checkKeySpec(spec);
    if (problem) throw new KeySpecError(problem.message, problem.param);
    const tier = spec.tier ?? 'standard';
    const secret = generateSecret(tier);
    const rec = this.recordFrom(`key_${randomBytes(9).toString('base64url')}`, secret, spec, 'api');
    await this.store.insert(rec);
    return { key: this.toPublic(rec), secret };
  }

  /**
   * Imports a key whose secret the operator chose (keys.json, keys.entries, keys.admin,
   * GATEWAY_ADMIN_KEY). Without an explicit id the id is derived from the digest, so logs and the
   * API never show the secret, and a new secret is a new key; a secret already stored from the
   * file or the configuration keeps its record (it may have moved between them). A revoked key
   * stays revoked, and an API-created key is never changed. Returns the key as stored.
   */
  async importKey(secretOrDigest: { secret?: string; sha256?: string }, spec: KeySpec, source: ImportedKeySource, id?: string): Promise<VirtualKeyRecord> {
    const problem = checkKeySpec(spec);
    if (problem) throw new KeySpecError(problem.message, problem.param);
    const hash = secretOrDigest.sha256 ?? hashSecret(secretOrDigest.secret!);
    const keyId = id ?? (await this.importedIdOf(hash)) ?? `${source === 'file' ? 'vk' : 'cfg'}_${hash.slice(0, 16)}`;
    await this.store.importKey(this.recordFrom(keyId, secretOrDigest.secret, spec, source, hash));
    this.cache.delete(hash);
    return (await this.store.getById(keyId))!;
  }

  private async importedIdOf(hash: string): Promise<string | undefined> {
    const rec = await this.store.getByHash(hash);
    return rec && rec.source !== 'api' ? rec.id : undefined;
  }

  /**
   * Loads `{"virtual_keys": {"<secret>": {...}}}` (the original gateway's keys.json) and returns
   * its keys as stored. The file is remembered so the API can name it when it refuses a change.
   */
  async importFile(file: string): Promise<VirtualKeyRecord[]> {
    let doc: unknown;
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new KeySpecError(`${file}: ${(err as Error).message}`, 'keys_file');
    }
    const entries = (doc as { virtual_keys?: Record<string, KeySpec> })?.virtual_keys;
    if (!entries || typeof entries !== 'object') throw new KeySpecError(`${file}: expected {"virtual_keys": {...}}`, 'virtual_keys');
    this.keysFile = file;
    const imported: VirtualKeyRecord[] = [];
    for (const [secret, spec] of Object.entries(entries)) {
      try {
        imported.push(await this.importKey({ secret }, spec, 'file'));
      } catch (err) {
        // Name the entry by position, never by its (secret) name.
        throw new KeySpecError(`${file}: virtual_keys entry ${imported.length + 1}: ${(err as Error).message}`, (err as KeySpecError).param ?? 'virtual_keys');
      }
    }
    return imported;
  }

  /**
   * Revokes the keys of one source that its last import did not list (removed from keys.json or
   * from the configuration); returns their ids.
   */
  async revokeUnlisted(source: ImportedKeySource, keep: readonly string[]): Promise<string[]> {
    const revoked = await this.store.revokeUnlisted(source, keep, this.now());
    // Lookups cached before the import (none in a normal start) must not outlive the revocation.
    if (revoked.length) this.cache.clear();
    return revoked;
  }

  private recordFrom(id: string, secret: string | undefined, spec: KeySpec, source: VirtualKeyRecord['source'], hash?: string): VirtualKeyRecord {
    const now = this.now();
    const tier: KeyTier = spec.tier ?? (secret ? tierOfSecret(secret) : 'standard');
    if (secret && tier === 'langchain' && !secret.startsWith(TIER_PREFIX.langchain)) {
      throw new KeySpecError(`langchain keys must start with "${TIER_PREFIX.langchain}"`, 'tier');
    }
    return {
      id,
      hash: hash ?? hashSecret(secret!),
      prefix: secret ? displayPrefix(secret) : 'sha256:…',
      name: spec.name ?? null,
      user: spec.user ?? spec.owner ?? null,
      team: spec.team ?? null,
      tier,
      roles: spec.roles ?? DEFAULT_ROLES,
      provider: spec.provider ?? null,
      providerKey: spec.api_key ? this.box.store(spec.api_key) : null,
      allowedModels: spec.allowed_models ?? null,
      allowedProviders: spec.allowed_providers ?? null,
      quotaLimit: spec.quota_limit ?? null,
      tokenBudget: spec.token_budget ?? null,
      budgetUsd: spec.budget_usd ?? null,
      expiresAt: parseExpiry(spec.expires_at),
      revokedAt: null,
      metadata: spec.metadata ?? {},
      source,
      createdAt: now,
      updatedAt: now,
    };
  }

  async list(filter?: KeyListFilter): Promise<PublicKey[]> {
    return (await this.store.list(filter)).map((r) => this.toPublic(r));
  }

  async get(id: string): Promise<PublicKey | undefined> {
    const rec = await this.store.getById(id);
    return rec && this.toPublic(rec);
  }

  async getRecord(id: string): Promise<VirtualKeyRecord | undefined> {
    return this.store.getById(id);
  }

  /** Changes an API-created key; a key from keys.json or the configuration follows its source (KeyManagedError). */
  async update(id: string, spec: KeySpec): Promise<PublicKey | undefined> {
    const current = await this.store.getById(id);
    if (!current) return undefined;
    if (current.source !== 'api') throw new KeyManagedError(id, this.origin(current.source));
    const problem = checkKeySpec(spec);
    if (problem) throw new KeySpecError(problem.message, problem.param);
    const patch: VirtualKeyPatch = {};
    if ('name' in spec) patch.name = spec.name ?? null;
    if ('user' in spec || 'owner' in spec) patch.user = spec.user ?? spec.owner ?? null;
    if ('team' in spec) patch.team = spec.team ?? null;
    if ('tier' in spec) throw new KeySpecError('The tier of a key cannot change; create a new key.', 'tier');
    if ('roles' in spec) patch.roles = spec.roles ?? DEFAULT_ROLES;
    if ('provider' in spec) patch.provider = spec.provider ?? null;
    if ('api_key' in spec) patch.providerKey = spec.api_key ? this.box.store(spec.api_key) : null;
    if ('allowed_models' in spec) patch.allowedModels = spec.allowed_models ?? null;
    if ('allowed_providers' in spec) patch.allowedProviders = spec.allowed_providers ?? null;
    if ('quota_limit' in spec) patch.quotaLimit = spec.quota_limit ?? null;
    if ('token_budget' in spec) patch.tokenBudget = spec.token_budget ?? null;
    if ('budget_usd' in spec) patch.budgetUsd = spec.budget_usd ?? null;
    if ('expires_at' in spec) patch.expiresAt = parseExpiry(spec.expires_at);
    if ('metadata' in spec) patch.metadata = spec.metadata ?? {};
    const rec = await this.store.update(id, patch, this.now());
    if (rec) this.cache.delete(rec.hash);
    return rec && this.toPublic(rec);
  }

  /** Where an imported key is maintained, for people: the keys file's name or the configuration. */
  private origin(source: ImportedKeySource): string {
    if (source === 'config') return 'the configuration';
    return this.keysFile ? `the keys file ${path.basename(this.keysFile)}` : 'the keys file';
  }

  async revoke(id: string): Promise<PublicKey | undefined> {
    const rec = await this.store.getById(id);
    if (!rec) return undefined;
    await this.store.revoke(id, this.now());
    this.cache.delete(rec.hash);
    return this.get(id);
  }

  toPublic(r: VirtualKeyRecord): PublicKey {
    const status = r.revokedAt !== null ? 'revoked' : r.expiresAt !== null && r.expiresAt <= this.now() ? 'expired' : 'active';
    return {
      id: r.id,
      prefix: r.prefix,
      name: r.name,
      user: r.user,
      team: r.team,
      tier: r.tier,
      roles: r.roles,
      provider: r.provider,
      has_provider_key: r.providerKey !== null,
      allowed_models: r.allowedModels,
      allowed_providers: r.allowedProviders,
      quota_limit: r.quotaLimit,
      token_budget: r.tokenBudget,
      budget_usd: r.budgetUsd,
      expires_at: iso(r.expiresAt),
      revoked_at: iso(r.revokedAt),
      status,
      metadata: r.metadata,
      source: r.source,
      created_at: iso(r.createdAt)!,
      updated_at: iso(r.updatedAt)!,
    };
  }
}

export { StoreConflictError };
