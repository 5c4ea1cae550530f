/**
 * The one behavioural suite every Store implementation passes (SQLite and PostgreSQL): the test
 * files only say how to make a fresh, empty database and open Store instances on it.
 */
import { MIGRATIONS } from '../../src/store/migrations';
import type { SecuritySettings } from '../../src/domain';
import {
  StoreConflictError,
  type AuditRecord,
  type ProviderRecord,
  type Store,
  type UsageGroupBy,
  type UsageRecord,
  type UsageRow,
  type UsageTotals,
  type VirtualKeyRecord,
} from '../../src/store/types';

/** One fresh, empty database (an SQLite file, a PostgreSQL schema). */
export interface StoreTestDatabase {
  /** A new Store instance on this database, not yet migrated. Several may be open at once. */
  open(): Promise<Store>;
  /** Deletes the database; the suite has closed every store it opened first. */
  drop(): Promise<void>;
}

/** What both implementations offer besides the Store interface, for checks the interface can't make. */
interface Inspectable {
  appliedMigrations(): Promise<number[]>;
  getUsage(id: string): Promise<UsageRecord | undefined>;
}

function inspect(store: Store): Inspectable {
  const s = store as unknown as Partial<Inspectable>;
  if (typeof s.appliedMigrations !== 'function' || typeof s.getUsage !== 'function') {
    throw new Error(`${store.kind} store lacks appliedMigrations()/getUsage()`);
  }
  return s as Inspectable;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 2026-01-10T00:00:00Z */
const D0 = Date.UTC(2026, 0, 10);

export function key(over: Partial<VirtualKeyRecord> = {}): VirtualKeyRecord {
  const id = over.id ?? 'key_1';
  return {
    id,
    hash: `hash-of-${id}`,
    prefix: 'sk-gw-Ab12',
    name: 'CI key',
    user: 'alice',
    team: 'red',
    tier: 'standard',
    roles: ['completion', 'admin'],
    provider: 'openai',
    providerKey: 'enc:v1:AAAA:BBBB:CCCC',
    allowedModels: ['gpt-4o', 'claude-*'],
    allowedProviders: null,
    quotaLimit: 100,
    // Above 2^31: BIGINT in PostgreSQL, and must come back as a number.
    tokenBudget: 5_000_000_000,
    budgetUsd: 12.5,
    expiresAt: D0 + 30 * DAY,
    revokedAt: null,
    metadata: { owner: 'ops', nested: { list: [1, 2, { deep: null }], flag: true }, ratio: 0.25, text: 'é ünïcødé "quoted"' },
    source: 'api',
    createdAt: D0,
    updatedAt: D0,
    ...over,
  };
}

/** A key with every nullable field null and empty arrays/metadata. */
export function bareKey(over: Partial<VirtualKeyRecord> = {}): VirtualKeyRecord {
  return key({
    id: 'key_bare',
    hash: 'hash-bare',
    name: null,
    user: null,
    team: null,
    tier: 'langchain',
    roles: [],
    provider: null,
    providerKey: null,
    allowedModels: null,
    allowedProviders: null,
    quotaLimit: null,
    tokenBudget: null,
    budgetUsd: null,
    expiresAt: null,
    revokedAt: null,
    metadata: {},
    source: 'file',
    ...over,
  });
}

export function provider(over: Partial<ProviderRecord> = {}): ProviderRecord {
  return {
    name: 'acme',
    type: 'openai',
    baseUrl: 'https://api.acme.example/v1',
    apiKey: 'enc:v1:AAAA:BBBB:CCCC',
    models: ['acme-large', 'acme-small', 'ünïcødé-model'],
    headers: { 'X-Org': 'ops', 'x-quoted': 'say "hi"', 'X-Empty': '' },
    // Fractional, and must come back as a number.
    timeoutSeconds: 12.5,
    createdAt: D0,
    updatedAt: D0,
    ...over,
  };
}

export function usage(over: Partial<UsageRecord> & { id: string }): UsageRecord {
  return {
    requestId: `req-${over.id}`,
    outcome: 'completed',
    time: D0,
    keyId: 'k1',
    user: 'alice',
    team: 'red',
    tier: 'standard',
    endpoint: 'standard',
    api: 'chat.completions',
    provider: 'openai',
    modelRequested: 'gpt-4o',
    modelServed: 'gpt-4o',
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    durationMs: 0,
    ttftMs: null,
    status: 200,
    streamed: false,
    ...over,
  };
}

/**
 * Five records over three UTC days, with boundaries on the exact millisecond. Costs are exact
 * binary fractions so sums compare exactly.
 */
const R = {
  r1: usage({
    id: 'r1', time: D0 + HOUR, keyId: 'k1', user: 'alice', team: 'red', provider: 'openai',
    modelRequested: 'gpt-4o', modelServed: 'gpt-4o-2024', endpoint: 'standard',
    promptTokens: 10, completionTokens: 5, cachedTokens: 2, reasoningTokens: 0, totalTokens: 15,
    costUsd: 0.5, durationMs: 100, ttftMs: 40, streamed: true,
  }),
  // The last millisecond of day 0.
  r2: usage({
    id: 'r2', time: D0 + DAY - 1, keyId: 'k1', user: 'bob', team: 'red', provider: 'anthropic',
    modelRequested: 'claude', modelServed: 'claude-3', endpoint: 'langchain', api: 'chat.completions',
    promptTokens: 20, completionTokens: 10, cachedTokens: 0, reasoningTokens: 3, totalTokens: 30,
    costUsd: 1.25, durationMs: 200,
  }),
  // Exactly midnight of day 1.
  r3: usage({
    id: 'r3', time: D0 + DAY, keyId: 'k2', user: 'alice', team: 'blue', provider: 'openai',
    modelRequested: 'gpt-4o', modelServed: null, endpoint: 'standard',
    promptTokens: 1, completionTokens: 1, cachedTokens: 0, reasoningTokens: 0, totalTokens: 2,
    costUsd: 0.25, durationMs: 300,
  }),
  // Everything optional missing: no key, user, team, provider; model only as requested.
  r4: usage({
    id: 'r4', time: D0 + DAY + 12 * HOUR, keyId: null, user: null, team: null, tier: null, provider: null,
    modelRequested: 'claude', modelServed: null, endpoint: 'standard', api: 'embeddings',
    promptTokens: 100, completionTokens: 50, cachedTokens: 10, reasoningTokens: 5, totalTokens: 150,
    costUsd: 2, durationMs: 400, ttftMs: null, status: 502,
  }),
  // Exactly midnight of day 2.
  r5: usage({
    id: 'r5', time: D0 + 2 * DAY, keyId: 'k2', user: 'carol', team: 'blue', provider: 'openai',
    modelRequested: 'gpt-4o-mini', modelServed: 'gpt-4o-mini', endpoint: 'langchain',
    promptTokens: 7, completionTokens: 3, cachedTokens: 1, reasoningTokens: 1, totalTokens: 10,
    costUsd: 0.125, durationMs: 501, ttftMs: 12.5, streamed: true,
  }),
};
const ALL = [R.r1, R.r2, R.r3, R.r4, R.r5];

const ZERO: UsageTotals = {
  requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0,
};

/** Expected totals of some records, summed in JS. */
function totals(...recs: UsageRecord[]): UsageTotals {
  return recs.reduce(
    (t, r) => ({
      requests: t.requests + 1,
      promptTokens: t.promptTokens + r.promptTokens,
      completionTokens: t.completionTokens + r.completionTokens,
      cachedTokens: t.cachedTokens + r.cachedTokens,
      reasoningTokens: t.reasoningTokens + r.reasoningTokens,
      totalTokens: t.totalTokens + r.totalTokens,
      costUsd: t.costUsd + r.costUsd,
    }),
    { ...ZERO },
  );
}

const row = (group: string | null, ...recs: UsageRecord[]): UsageRow => ({ group, ...totals(...recs), errors: recs.filter((r) => r.status >= 400).length });

export function audit(over: Partial<AuditRecord> & { id: string }): AuditRecord {
  return {
    time: D0,
    actorKeyId: 'root',
    actorIdentity: 'ops@example.com',
    actorTeam: 'red',
    action: 'key.created',
    target: 'key_1',
    outcome: 'success',
    requestId: `req-${over.id}`,
    details: { fields: ['team', 'roles'], nested: { n: 1.5, ok: true, none: null }, text: 'é ünïcødé "quoted"' },
    ...over,
  };
}

/** Audit records over two days; a1 and a2 share a millisecond (ties go by id, descending). */
const A = {
  a1: audit({ id: 'aud_1', time: D0 + HOUR }),
  a2: audit({ id: 'aud_2', time: D0 + HOUR, action: 'key.revoked', actorTeam: 'blue' }),
  a3: audit({
    id: 'aud_3', time: D0 + DAY, action: 'admin.login_failed', outcome: 'denied', actorKeyId: null, actorIdentity: null,
    actorTeam: null, target: 'GET /v1/keys', details: { reason: 'invalid_api_key' },
  }),
  a4: audit({ id: 'aud_4', time: D0 + DAY + 1, action: 'security_config.changed', target: null, requestId: null, details: {} }),
};

const SETTINGS: SecuritySettings = {
  content_filtering_enabled: true,
  audit_logging_enabled: true,
  data_isolation_enabled: false,
  content_filters: [{ name: 'pii', rules: [{ path: '$.messages[*].content', detect: ['email'], action: 'redact', note: 'ünïcødé' }] }],
};

export function describeStore(name: string, createDatabase: () => Promise<StoreTestDatabase>): void {
  describe(`${name} store`, () => {
    let db: StoreTestDatabase;
    let store: Store;
    const opened: Store[] = [];
    const extraDbs: StoreTestDatabase[] = [];

    /** Opens (and remembers, to close) a store on a database. */
    async function open(on: StoreTestDatabase): Promise<Store> {
      const s = await on.open();
      opened.push(s);
      return s;
    }

    beforeEach(async () => {
      db = await createDatabase();
      store = await open(db);
      await store.migrate();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await db.drop();
      for (const d of extraDbs.splice(0)) await d.drop();
    });

    describe('migrations', () => {
      test('records every migration once, and running again changes nothing', async () => {
        const versions = MIGRATIONS.map((m) => m.version);
        expect(versions).toContain(2);
        expect(await inspect(store).appliedMigrations()).toEqual(versions);
        expect(await inspect(store).appliedMigrations()).toContain(2);
        await store.keys.insert(key());
        await store.usage.insertBatch([R.r1]);
        await store.providers.upsert(provider());

        await store.migrate();
        await store.migrate();
        expect(await inspect(store).appliedMigrations()).toEqual(versions);
        expect(await store.keys.getById('key_1')).toEqual(key());
        expect(await store.usage.count()).toBe(1);
        expect(await store.providers.list()).toEqual([provider()]);

        // A second instance on the migrated database (a restart) finds nothing to do.
        const again = await open(db);
        await again.migrate();
        expect(await inspect(again).appliedMigrations()).toEqual(versions);
        expect(await again.keys.getById('key_1')).toEqual(key());
      });

      test('two instances migrating one empty database at once both succeed', async () => {
        const fresh = await createDatabase();
        extraDbs.push(fresh);
        const [a, b, c] = [await open(fresh), await open(fresh), await open(fresh)];
        await Promise.all([a.migrate(), b.migrate(), c.migrate()]);
        expect(await inspect(a).appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
        await a.keys.insert(key());
        expect(await b.keys.getById('key_1')).toEqual(key());
        expect(await c.usage.insertBatch([R.r1])).toBe(1);
        expect(await a.usage.count()).toBe(1);
      });

      test('close() twice is harmless', async () => {
        const s = await open(db);
        await s.close();
        await s.close();
      });
    });

    describe('keys', () => {
      test('insert and getById round-trip every field, JSON and nulls included', async () => {
        await store.keys.insert(key());
        await store.keys.insert(bareKey());
        expect(await store.keys.getById('key_1')).toEqual(key());
        expect(await store.keys.getById('key_bare')).toEqual(bareKey());
        const got = await store.keys.getById('key_1');
        expect(typeof got?.tokenBudget).toBe('number');
        expect(typeof got?.createdAt).toBe('number');
        expect(Array.isArray(got?.roles)).toBe(true);
        expect(await store.keys.getById('nope')).toBeUndefined();
      });

      test('getByHash finds by digest', async () => {
        await store.keys.insert(key());
        await store.keys.insert(key({ id: 'key_2', hash: 'other-hash' }));
        expect((await store.keys.getByHash('other-hash'))?.id).toBe('key_2');
        expect(await store.keys.getByHash('hash-of-key_1')).toEqual(key());
        expect(await store.keys.getByHash('missing')).toBeUndefined();
      });

      test('insert refuses a duplicate id or hash with StoreConflictError', async () => {
        await store.keys.insert(key());
        await expect(store.keys.insert(key({ hash: 'different' }))).rejects.toBeInstanceOf(StoreConflictError);
        await expect(store.keys.insert(key({ id: 'key_other', hash: 'hash-of-key_1' }))).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.keys.list()).toEqual([key()]);
      });

      test('importKey inserts, then updates by id keeping createdAt', async () => {
        const original = key({ source: 'file' });
        expect(await store.keys.importKey(original)).toBe(true);
        expect(await store.keys.getById('key_1')).toEqual(original);

        // A rotated secret, changed settings, and a move from keys.json to the configuration.
        const replacement = key({
          hash: 'rotated-hash', name: 'renamed', team: null, roles: ['embedding'], allowedModels: null, quotaLimit: 7,
          metadata: { v: 2 }, source: 'config', createdAt: D0 + 5 * DAY, updatedAt: D0 + 5 * DAY,
        });
        expect(await store.keys.importKey(replacement)).toBe(true);
        expect(await store.keys.getById('key_1')).toEqual({ ...replacement, createdAt: D0 });
        expect(await store.keys.getByHash('hash-of-key_1')).toBeUndefined();
        expect(await store.keys.getByHash('rotated-hash')).toMatchObject({ id: 'key_1' });
        expect(await store.keys.list()).toHaveLength(1);
      });

      test('importKey never undoes a revocation, from this store or another replica', async () => {
        const replica = await open(db);
        await store.keys.importKey(key({ source: 'file' }));
        await store.keys.revoke('key_1', D0 + DAY);
        const revoked = await store.keys.getById('key_1');
        for (const s of [store, replica]) {
          expect(await s.keys.importKey(key({ source: 'file', name: 'changed', quotaLimit: 1, updatedAt: D0 + 2 * DAY }))).toBe(false);
          expect(await s.keys.getById('key_1')).toEqual(revoked);
        }
        expect(revoked).toMatchObject({ revokedAt: D0 + DAY, name: 'CI key' });
      });

      test('a revocation racing imports on two replicas always wins', async () => {
        const replica = await open(db);
        await store.keys.importKey(key({ source: 'config' }));
        const imports = Array.from({ length: 20 }, (_, i) => (i % 2 ? store : replica).keys.importKey(key({ source: 'config', updatedAt: D0 + i })));
        await Promise.all([...imports.slice(0, 10), store.keys.revoke('key_1', D0 + DAY), ...imports.slice(10)]);
        expect((await replica.keys.getById('key_1'))?.revokedAt).toBe(D0 + DAY);
        expect(await replica.keys.importKey(key({ source: 'config' }))).toBe(false);
        expect((await store.keys.getById('key_1'))?.revokedAt).toBe(D0 + DAY);
      });

      test('importKey leaves a key created through the API alone', async () => {
        await store.keys.insert(key({ source: 'api' }));
        expect(await store.keys.importKey(key({ source: 'config', name: 'hijacked', roles: ['admin'], hash: 'other' }))).toBe(false);
        expect(await store.keys.getById('key_1')).toEqual(key({ source: 'api' }));
      });

      test("importKey refuses another key's hash", async () => {
        await store.keys.insert(key({ source: 'file' }));
        await store.keys.insert(key({ id: 'key_2', hash: 'h2', source: 'file' }));
        await expect(store.keys.importKey(key({ id: 'key_2', hash: 'hash-of-key_1', source: 'file' }))).rejects.toBeInstanceOf(StoreConflictError);
        await expect(store.keys.importKey(key({ id: 'key_3', hash: 'h2', source: 'file' }))).rejects.toBeInstanceOf(StoreConflictError);
        expect((await store.keys.getById('key_2'))?.hash).toBe('h2');
        expect(await store.keys.getById('key_3')).toBeUndefined();
      });

      test('revokeUnlisted revokes the active keys of one source that the list leaves out', async () => {
        for (const [id, source] of [['f1', 'file'], ['f2', 'file'], ['f3', 'file'], ['f4', 'file'], ['c1', 'config'], ['a1', 'api']] as const) {
          await store.keys.insert(key({ id, hash: `h-${id}`, source }));
        }
        await store.keys.revoke('f4', D0 + 1);

        expect(await store.keys.revokeUnlisted('file', ['f1', 'not-stored'], D0 + DAY)).toEqual(['f2', 'f3']);
        expect(await store.keys.getById('f2')).toMatchObject({ revokedAt: D0 + DAY, updatedAt: D0 + DAY });
        expect((await store.keys.getById('f4'))?.revokedAt).toBe(D0 + 1);
        for (const id of ['f1', 'c1', 'a1']) expect((await store.keys.getById(id))?.revokedAt).toBeNull();
        expect(await store.keys.revokeUnlisted('file', ['f1'], D0 + 2 * DAY)).toEqual([]);
        expect((await store.keys.getById('f2'))?.revokedAt).toBe(D0 + DAY);

        // An empty list revokes every key of the source, and never an API-created one.
        expect(await store.keys.revokeUnlisted('config', [], D0 + DAY)).toEqual(['c1']);
        expect((await store.keys.getById('a1'))?.revokedAt).toBeNull();
      });

      test('revokeUnlisted takes a list longer than any statement parameter limit', async () => {
        await store.keys.insert(key({ id: 'keep', hash: 'h-keep', source: 'file' }));
        await store.keys.insert(key({ id: 'drop', hash: 'h-drop', source: 'file' }));
        const many = Array.from({ length: 70_000 }, (_, i) => `vk_${i}`);
        expect(await store.keys.revokeUnlisted('file', [...many, 'keep'], D0 + DAY)).toEqual(['drop']);
        expect((await store.keys.getById('keep'))?.revokedAt).toBeNull();
      });

      test('list is newest first, ties by id, revoked included, filtered by team', async () => {
        await store.keys.insert(key({ id: 'k_old', hash: 'a', createdAt: D0, team: 'red' }));
        await store.keys.insert(key({ id: 'k_new', hash: 'b', createdAt: D0 + 2 * DAY, team: 'blue' }));
        await store.keys.insert(key({ id: 'k_mid_b', hash: 'c', createdAt: D0 + DAY, team: 'red' }));
        await store.keys.insert(key({ id: 'k_mid_a', hash: 'd', createdAt: D0 + DAY, team: null }));
        await store.keys.revoke('k_old', D0 + 3 * DAY);

        expect((await store.keys.list()).map((k) => k.id)).toEqual(['k_new', 'k_mid_a', 'k_mid_b', 'k_old']);
        expect((await store.keys.list({})).map((k) => k.id)).toEqual(['k_new', 'k_mid_a', 'k_mid_b', 'k_old']);
        const red = await store.keys.list({ team: 'red' });
        expect(red.map((k) => k.id)).toEqual(['k_mid_b', 'k_old']);
        expect(red[1]?.revokedAt).toBe(D0 + 3 * DAY);
        expect(await store.keys.list({ team: 'green' })).toEqual([]);
      });

      test('list pages in the query: limit, then the keys after a position, team kept', async () => {
        // 7 keys, three created at the same time (ties by id, byte order: 'B' < 'a').
        const made = [
          ['k7', D0 + 5 * DAY, 'red'], ['k6', D0 + 4 * DAY, 'blue'], ['k_tie_B', D0 + 3 * DAY, 'red'], ['k_tie_a', D0 + 3 * DAY, 'red'],
          ['k_tie_b', D0 + 3 * DAY, 'blue'], ['k2', D0 + DAY, 'red'], ['k1', D0, null],
        ] as const;
        for (const [id, createdAt, team] of made) await store.keys.insert(key({ id, hash: `h-${id}`, createdAt, team }));
        const all = (await store.keys.list()).map((k) => k.id);
        expect(all).toEqual(['k7', 'k6', 'k_tie_B', 'k_tie_a', 'k_tie_b', 'k2', 'k1']);
        const walk = async (filter: { team?: string }, limit: number) => {
          const pages: string[][] = [];
          let after: { createdAt: number; id: string } | undefined;
          for (;;) {
            const page = await store.keys.list({ ...filter, limit, after });
            expect(page.length).toBeLessThanOrEqual(limit);
            if (!page.length) return pages;
            pages.push(page.map((k) => k.id));
            after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
          }
        };
        expect(await walk({}, 2)).toEqual([['k7', 'k6'], ['k_tie_B', 'k_tie_a'], ['k_tie_b', 'k2'], ['k1']]);
        expect(await walk({}, 3)).toEqual([['k7', 'k6', 'k_tie_B'], ['k_tie_a', 'k_tie_b', 'k2'], ['k1']]);
        expect(await walk({ team: 'red' }, 2)).toEqual([['k7', 'k_tie_B'], ['k_tie_a', 'k2']]);
        expect(await walk({ team: 'green' }, 2)).toEqual([]);
        // After a position of another team's key, still only the team's keys.
        expect((await store.keys.list({ team: 'blue', after: { createdAt: D0 + 3 * DAY, id: 'k_tie_B' } })).map((k) => k.id)).toEqual(['k_tie_b']);
        expect((await store.keys.list({ limit: 1 })).map((k) => k.id)).toEqual(['k7']);
        expect(await store.keys.list({ limit: 0 })).toEqual([]);
        // A position is compared by value: text in it is never SQL.
        expect((await store.keys.list({ after: { createdAt: D0 + 3 * DAY, id: "z' OR '1'='1" }, limit: 10 })).map((k) => k.id)).toEqual(['k2', 'k1']);
      });

      test('update changes only the given fields and sets updatedAt', async () => {
        await store.keys.insert(key());
        const now = D0 + DAY;
        const updated = await store.keys.update('key_1', { name: 'new name', team: null, allowedModels: ['a'], quotaLimit: null }, now);
        const expected = { ...key(), name: 'new name', team: null, allowedModels: ['a'], quotaLimit: null, updatedAt: now };
        expect(updated).toEqual(expected);
        expect(await store.keys.getById('key_1')).toEqual(expected);

        // undefined means "leave alone"; JSON fields are replaced whole.
        const later = D0 + 2 * DAY;
        const again = await store.keys.update(
          'key_1',
          { name: undefined, metadata: { only: 'this' }, roles: ['embedding'], allowedProviders: ['openai'], tokenBudget: 7, budgetUsd: 0.75, expiresAt: null, tier: 'langchain', user: 'zed', provider: null, providerKey: 'env:KEY' },
          later,
        );
        expect(again).toEqual({
          ...expected, metadata: { only: 'this' }, roles: ['embedding'], allowedProviders: ['openai'], tokenBudget: 7,
          budgetUsd: 0.75, expiresAt: null, tier: 'langchain', user: 'zed', provider: null, providerKey: 'env:KEY', updatedAt: later,
        });

        // An empty patch only touches updatedAt.
        expect(await store.keys.update('key_1', {}, later + 1)).toEqual({ ...again, updatedAt: later + 1 });
      });

      test('update ignores fields outside the patch type and returns undefined for a missing id', async () => {
        await store.keys.insert(key());
        const sneaky = { id: 'evil', hash: 'evil', source: 'config', createdAt: 1, revokedAt: 5, name: 'ok' } as never;
        const got = await store.keys.update('key_1', sneaky, D0 + 1);
        expect(got).toEqual({ ...key(), name: 'ok', updatedAt: D0 + 1 });
        expect(await store.keys.update('missing', { name: 'x' }, D0)).toBeUndefined();
        expect(await store.keys.getById('missing')).toBeUndefined();
      });

      test('revoke sets revokedAt once and reports whether the key exists', async () => {
        await store.keys.insert(key());
        expect(await store.keys.revoke('key_1', D0 + DAY)).toBe(true);
        expect((await store.keys.getById('key_1'))?.revokedAt).toBe(D0 + DAY);
        expect(await store.keys.revoke('key_1', D0 + 2 * DAY)).toBe(true);
        expect((await store.keys.getById('key_1'))?.revokedAt).toBe(D0 + DAY);
        expect(await store.keys.revoke('missing', D0)).toBe(false);
      });
    });

    describe('providers', () => {
      test('upsert and get round-trip every field, JSON and a null apiKey included', async () => {
        const bare = provider({ name: 'bare', apiKey: null, models: [], headers: {}, timeoutSeconds: 30 });
        await store.providers.upsert(provider());
        await store.providers.upsert(bare);
        expect(await store.providers.get('acme')).toEqual(provider());
        expect(await store.providers.get('bare')).toEqual(bare);
        const got = await store.providers.get('acme');
        expect(typeof got?.timeoutSeconds).toBe('number');
        expect(typeof got?.createdAt).toBe('number');
        expect(Array.isArray(got?.models)).toBe(true);
        expect((await store.providers.get('bare'))?.apiKey).toBeNull();
        expect(await store.providers.get('nope')).toBeUndefined();
        expect(await store.providers.get('ACME')).toBeUndefined();
      });

      test('upsert replaces by name, keeping createdAt and updating the rest', async () => {
        await store.providers.upsert(provider());
        const replacement = provider({
          type: 'anthropic', baseUrl: 'https://other.example', apiKey: null, models: ['only-one'],
          headers: { Authorization: 'Bearer x' }, timeoutSeconds: 60, createdAt: D0 + 5 * DAY, updatedAt: D0 + 5 * DAY,
        });
        await store.providers.upsert(replacement);
        expect(await store.providers.get('acme')).toEqual({ ...replacement, createdAt: D0 });
        expect(await store.providers.list()).toHaveLength(1);

        // And back to a credential and headers again.
        const third = provider({ apiKey: 'env:ACME_KEY', headers: {}, models: [], createdAt: 1, updatedAt: D0 + 6 * DAY });
        await store.providers.upsert(third);
        expect(await store.providers.get('acme')).toEqual({ ...third, createdAt: D0 });
      });

      test('list is sorted by name in byte order', async () => {
        expect(await store.providers.list()).toEqual([]);
        for (const name of ['zeta', 'Beta', 'alpha', 'a_b', 'a-b', 'alpha2', '_x', 'Zulu']) {
          await store.providers.upsert(provider({ name }));
        }
        expect((await store.providers.list()).map((p) => p.name)).toEqual(['Beta', 'Zulu', '_x', 'a-b', 'a_b', 'alpha', 'alpha2', 'zeta']);
        expect((await store.providers.list())[0]).toEqual(provider({ name: 'Beta' }));
      });

      test('delete reports whether a provider was removed', async () => {
        await store.providers.upsert(provider());
        await store.providers.upsert(provider({ name: 'other' }));
        expect(await store.providers.delete('acme')).toBe(true);
        expect(await store.providers.get('acme')).toBeUndefined();
        expect(await store.providers.delete('acme')).toBe(false);
        expect(await store.providers.delete('missing')).toBe(false);
        expect((await store.providers.list()).map((p) => p.name)).toEqual(['other']);
      });

      test('names are data, not SQL', async () => {
        const name = "x'); DROP TABLE providers; --";
        await store.providers.upsert(provider({ name }));
        expect(await store.providers.get(name)).toEqual(provider({ name }));
        expect(await store.providers.delete(name)).toBe(true);
        expect(await store.providers.list()).toEqual([]);
      });

      test('survive migrate() again and a second instance', async () => {
        await store.providers.upsert(provider());
        await store.migrate();
        const again = await open(db);
        await again.migrate();
        expect(await inspect(again).appliedMigrations()).toContain(2);
        expect(await again.providers.get('acme')).toEqual(provider());
      });
    });

    describe('audit', () => {
      test('append is idempotent on id and records round-trip (nulls, JSON details)', async () => {
        expect(await store.audit.append([])).toBe(0);
        expect(await store.audit.append([A.a1, A.a2, A.a3, A.a4])).toBe(4);
        expect(await store.audit.append([A.a1, A.a3])).toBe(0);
        // The first write wins: a retried batch with other content does not overwrite.
        expect(await store.audit.append([{ ...A.a1, outcome: 'failure' }, audit({ id: 'aud_5', time: D0 + 2 * DAY })])).toBe(1);
        const all = await store.audit.query({ limit: 100 });
        expect(all).toHaveLength(5);
        expect(all.find((r) => r.id === 'aud_1')).toEqual(A.a1);
        expect(all.find((r) => r.id === 'aud_3')).toEqual(A.a3);
        expect(all.find((r) => r.id === 'aud_4')).toEqual(A.a4);
        expect(typeof all[0]?.time).toBe('number');
      });

      test('query is newest first, ties by id descending, and honours limit', async () => {
        await store.audit.append([A.a1, A.a2, A.a3, A.a4]);
        expect((await store.audit.query({ limit: 100 })).map((r) => r.id)).toEqual(['aud_4', 'aud_3', 'aud_2', 'aud_1']);
        expect((await store.audit.query({ limit: 2 })).map((r) => r.id)).toEqual(['aud_4', 'aud_3']);
        expect(await store.audit.query({ limit: 0 })).toEqual([]);
      });

      test('query filters by [start, end), action, team and request id', async () => {
        await store.audit.append([A.a1, A.a2, A.a3, A.a4]);
        const ids = async (q: Partial<Parameters<Store['audit']['query']>[0]>) => (await store.audit.query({ limit: 100, ...q })).map((r) => r.id);
        expect(await ids({ start: D0 + DAY })).toEqual(['aud_4', 'aud_3']);
        expect(await ids({ end: D0 + DAY })).toEqual(['aud_2', 'aud_1']);
        expect(await ids({ start: D0 + HOUR, end: D0 + HOUR + 1 })).toEqual(['aud_2', 'aud_1']);
        expect(await ids({ start: D0 + DAY, end: D0 + DAY })).toEqual([]);
        expect(await ids({ action: 'key.created' })).toEqual(['aud_1']);
        expect(await ids({ action: 'admin.login_failed' })).toEqual(['aud_3']);
        expect(await ids({ team: 'red' })).toEqual(['aud_4', 'aud_1']);
        expect(await ids({ team: 'blue', action: 'key.revoked' })).toEqual(['aud_2']);
        expect(await ids({ team: 'green' })).toEqual([]);
        expect(await ids({ requestId: 'req-aud_3' })).toEqual(['aud_3']);
        expect(await ids({ action: "x' OR '1'='1" })).toEqual([]);
        expect(await ids({ team: "red'; DROP TABLE audit_records; --" })).toEqual([]);
        expect(await ids({})).toHaveLength(4);
      });

      test('survive migrate() again and a second instance', async () => {
        await store.audit.append([A.a1]);
        await store.migrate();
        const again = await open(db);
        await again.migrate();
        expect(await again.audit.query({ limit: 10 })).toEqual([A.a1]);
      });
    });

    describe('security settings', () => {
      const changed = (over: Partial<SecuritySettings>): SecuritySettings => ({ ...SETTINGS, ...over });

      test('nothing stored at first; the first put (expected version 0) is version 1 and round-trips', async () => {
        expect(await store.settings.get()).toBeUndefined();
        expect(await store.settings.put(SETTINGS, 0)).toBe(1);
        expect(await store.settings.get()).toEqual({ value: SETTINGS, version: 1 });
        await expect(store.settings.put(changed({ audit_logging_enabled: false }), 0)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.settings.get()).toEqual({ value: SETTINGS, version: 1 });
      });

      test('optimistic versioning: a put against a stale version is refused and changes nothing', async () => {
        await store.settings.put(SETTINGS, 0);
        const v2 = changed({ data_isolation_enabled: true });
        expect(await store.settings.put(v2, 1)).toBe(2);
        await expect(store.settings.put(changed({ content_filtering_enabled: false }), 1)).rejects.toBeInstanceOf(StoreConflictError);
        await expect(store.settings.put(SETTINGS, 7)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.settings.get()).toEqual({ value: v2, version: 2 });
        // Without an expected version a put always wins and still bumps the version.
        const v3 = changed({ content_filters: [] });
        expect(await store.settings.put(v3)).toBe(3);
        expect(await store.settings.get()).toEqual({ value: v3, version: 3 });
      });

      test('an unconditional first put creates version 1', async () => {
        expect(await store.settings.put(SETTINGS)).toBe(1);
        expect((await store.settings.get())?.version).toBe(1);
      });

      test('two instances racing on one version: exactly one wins; the other instance sees it', async () => {
        await store.settings.put(SETTINGS, 0);
        const other = await open(db);
        await other.migrate();
        const results = await Promise.allSettled([
          store.settings.put(changed({ audit_logging_enabled: false }), 1),
          other.settings.put(changed({ data_isolation_enabled: true }), 1),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toBeInstanceOf(StoreConflictError);
        const seen = await other.settings.get();
        expect(seen?.version).toBe(2);
        expect(await store.settings.get()).toEqual(seen);
      });
    });

    describe('usage', () => {
      test('insertBatch is idempotent on the record id', async () => {
        expect(await store.usage.count()).toBe(0);
        expect(await store.usage.insertBatch([])).toBe(0);
        expect(await store.usage.insertBatch(ALL)).toBe(5);
        expect(await store.usage.insertBatch(ALL)).toBe(0);
        expect(await store.usage.count()).toBe(5);
        // Partly new, and a duplicate inside one batch.
        const r6 = usage({ id: 'r6', time: D0 + 3 * DAY });
        expect(await store.usage.insertBatch([R.r1, r6, r6])).toBe(1);
        expect(await store.usage.count()).toBe(6);
        // The first write wins: a retry with different numbers does not overwrite.
        expect(await store.usage.insertBatch([{ ...R.r1, totalTokens: 999 }])).toBe(0);
        expect((await inspect(store).getUsage('r1'))?.totalTokens).toBe(15);
      });

      test('records that share a client request id are separate records (the key is the gateway id)', async () => {
        const shared = [usage({ id: 'x1', requestId: 'same', keyId: 'k1' }), usage({ id: 'x2', requestId: 'same', keyId: 'k2' })];
        expect(await store.usage.insertBatch(shared)).toBe(2);
        expect((await inspect(store).getUsage('x2'))?.keyId).toBe('k2');
        expect(await store.usage.insertBatch([usage({ id: 'x3', requestId: null, outcome: 'interrupted' })])).toBe(1);
        expect(await inspect(store).getUsage('x3')).toMatchObject({ requestId: null, outcome: 'interrupted' });
      });

      test('records round-trip: nulls, booleans, fractions', async () => {
        await store.usage.insertBatch(ALL);
        for (const r of ALL) expect(await inspect(store).getUsage(r.id)).toEqual(r);
        expect((await inspect(store).getUsage('r1'))?.streamed).toBe(true);
        expect((await inspect(store).getUsage('r2'))?.streamed).toBe(false);
        expect(await inspect(store).getUsage('missing')).toBeUndefined();
      });

      test('a 2,000-record batch, then 2,500 of which 2,000 are repeats', async () => {
        const many = Array.from({ length: 2500 }, (_, i) =>
          usage({
            id: `bulk-${String(i).padStart(5, '0')}`, time: D0 + i * 60_000, keyId: i % 2 ? 'odd' : 'even',
            promptTokens: i, completionTokens: 1, totalTokens: i + 1, costUsd: 0.5, durationMs: 10,
          }),
        );
        expect(await store.usage.insertBatch(many.slice(0, 2000))).toBe(2000);
        expect(await store.usage.count()).toBe(2000);
        expect(await store.usage.insertBatch(many.slice(0, 2000))).toBe(0);
        expect(await store.usage.insertBatch(many)).toBe(500);
        expect(await store.usage.count()).toBe(2500);
        const [all] = await store.usage.query({});
        expect(all).toEqual({
          group: 'all', requests: 2500, promptTokens: (2499 * 2500) / 2, completionTokens: 2500,
          cachedTokens: 0, reasoningTokens: 0, totalTokens: (2499 * 2500) / 2 + 2500, costUsd: 1250, errors: 0,
        });
        expect((await store.usage.totalsForKey('odd')).requests).toBe(1250);
      });

      test('query without groupBy is one "all" row, also when empty', async () => {
        expect(await store.usage.query({})).toEqual([{ group: 'all', ...ZERO, errors: 0 }]);
        expect(await store.usage.query({ groupBy: 'day' })).toEqual([]);
        await store.usage.insertBatch(ALL);
        expect(await store.usage.query({})).toEqual([row('all', ...ALL)]);
      });

      const grouped: Array<[UsageGroupBy, UsageRow[]]> = [
        ['key', [row('k1', R.r1, R.r2), row('k2', R.r3, R.r5), row(null, R.r4)]],
        ['user', [row('alice', R.r1, R.r3), row('bob', R.r2), row('carol', R.r5), row(null, R.r4)]],
        ['team', [row('blue', R.r3, R.r5), row('red', R.r1, R.r2), row(null, R.r4)]],
        // model_served, else model_requested.
        ['model', [row('claude', R.r4), row('claude-3', R.r2), row('gpt-4o', R.r3), row('gpt-4o-2024', R.r1), row('gpt-4o-mini', R.r5)]],
        ['provider', [row('anthropic', R.r2), row('openai', R.r1, R.r3, R.r5), row(null, R.r4)]],
        ['endpoint', [row('langchain', R.r2, R.r5), row('standard', R.r1, R.r3, R.r4)]],
        ['day', [row('2026-01-10', R.r1, R.r2), row('2026-01-11', R.r3, R.r4), row('2026-01-12', R.r5)]],
        // UTC hours: r2 is the last millisecond of 23:00, r3 the first of the next day's 00:00.
        ['hour', [row('2026-01-10T01:00:00Z', R.r1), row('2026-01-10T23:00:00Z', R.r2), row('2026-01-11T00:00:00Z', R.r3), row('2026-01-11T12:00:00Z', R.r4), row('2026-01-12T00:00:00Z', R.r5)]],
      ];
      test.each(grouped)('query groupBy %s', async (groupBy, expected) => {
        await store.usage.insertBatch(ALL);
        expect(await store.usage.query({ groupBy })).toEqual(expected);
      });

      test.each(grouped)('query groupBy %s pages with limit and offset in the grouped order', async (groupBy, expected) => {
        await store.usage.insertBatch(ALL);
        const pages: UsageRow[][] = [];
        for (let offset = 0; offset < expected.length + 2; offset += 2) pages.push(await store.usage.query({ groupBy, limit: 2, offset }));
        // Pages of two, the null group last, nothing skipped or repeated; past the end, nothing.
        expect(pages.flat()).toEqual(expected);
        expect(pages.map((p) => p.length)).toEqual(pages.map((_, i) => Math.max(0, Math.min(2, expected.length - 2 * i))));
        expect(pages.at(-1)).toEqual([]);
        expect(await store.usage.query({ groupBy, limit: 1000, offset: 0 })).toEqual(expected);
        expect(await store.usage.query({ groupBy, limit: 0 })).toEqual([]);
        expect(await store.usage.query({ groupBy, offset: 1 })).toEqual(expected.slice(1));
      });

      test('query refuses a limit or offset that is not a non-negative integer', async () => {
        for (const bad of [-1, 1.5, Number.NaN, '1; DROP TABLE usage_records' as unknown as number]) {
          await expect(store.usage.query({ groupBy: 'key', limit: bad })).rejects.toThrow(/limit/);
          await expect(store.usage.query({ groupBy: 'key', limit: 1, offset: bad })).rejects.toThrow(/offset/);
        }
      });

      // [start, end): r2 is one millisecond before day 1, r3 exactly at its start, r5 exactly at its end.
      const inDay1: Array<[UsageGroupBy, UsageRow[]]> = [
        ['key', [row('k2', R.r3), row(null, R.r4)]],
        ['user', [row('alice', R.r3), row(null, R.r4)]],
        ['team', [row('blue', R.r3), row(null, R.r4)]],
        ['model', [row('claude', R.r4), row('gpt-4o', R.r3)]],
        ['provider', [row('openai', R.r3), row(null, R.r4)]],
        ['endpoint', [row('standard', R.r3, R.r4)]],
        ['day', [row('2026-01-11', R.r3, R.r4)]],
        ['hour', [row('2026-01-11T00:00:00Z', R.r3), row('2026-01-11T12:00:00Z', R.r4)]],
      ];
      test.each(inDay1)('query groupBy %s within [start, end)', async (groupBy, expected) => {
        await store.usage.insertBatch(ALL);
        expect(await store.usage.query({ groupBy, start: D0 + DAY, end: D0 + 2 * DAY })).toEqual(expected);
      });

      test('query start alone, end alone', async () => {
        await store.usage.insertBatch(ALL);
        expect(await store.usage.query({ start: D0 + DAY })).toEqual([row('all', R.r3, R.r4, R.r5)]);
        expect(await store.usage.query({ end: D0 + DAY })).toEqual([row('all', R.r1, R.r2)]);
        expect(await store.usage.query({ start: D0 + DAY - 1, end: D0 + DAY })).toEqual([row('all', R.r2)]);
        expect(await store.usage.query({ start: D0 + DAY, end: D0 + DAY })).toEqual([row('all')]);
      });

      test('query filters by keyId and team', async () => {
        await store.usage.insertBatch(ALL);
        expect(await store.usage.query({ keyId: 'k2', groupBy: 'day' })).toEqual([row('2026-01-11', R.r3), row('2026-01-12', R.r5)]);
        expect(await store.usage.query({ team: 'red' })).toEqual([row('all', R.r1, R.r2)]);
        expect(await store.usage.query({ team: 'red', groupBy: 'user' })).toEqual([row('alice', R.r1), row('bob', R.r2)]);
        expect(await store.usage.query({ team: 'blue', keyId: 'k2', start: D0 + 2 * DAY })).toEqual([row('all', R.r5)]);
        expect(await store.usage.query({ team: 'blue', keyId: 'k1' })).toEqual([row('all')]);
        expect(await store.usage.query({ keyId: 'nobody', groupBy: 'model' })).toEqual([]);
      });

      test('query refuses a groupBy outside the list', async () => {
        await store.usage.insertBatch(ALL);
        for (const bad of ['time', 'key_id', 'cost_usd', "team; DROP TABLE usage_records; --", 'Day', '']) {
          await expect(store.usage.query({ groupBy: bad as UsageGroupBy })).rejects.toThrow(/groupBy/);
        }
        expect(await store.usage.count()).toBe(5);
      });

      test('summary: totals, providers (null as "none"), average, newest time', async () => {
        expect(await store.usage.summary()).toEqual({ totalRequests: 0, requestsByProvider: {}, averageResponseMs: 0, lastUpdated: null });
        await store.usage.insertBatch(ALL);
        expect(await store.usage.summary()).toEqual({
          totalRequests: 5,
          requestsByProvider: { openai: 3, anthropic: 1, none: 1 },
          averageResponseMs: 300.2,
          lastUpdated: D0 + 2 * DAY,
        });
        expect(await store.usage.summary({ team: 'red' })).toEqual({
          totalRequests: 2, requestsByProvider: { openai: 1, anthropic: 1 }, averageResponseMs: 150, lastUpdated: D0 + DAY - 1,
        });
        expect(await store.usage.summary({ keyId: 'k2', team: 'blue' })).toEqual({
          totalRequests: 2, requestsByProvider: { openai: 2 }, averageResponseMs: 400.5, lastUpdated: D0 + 2 * DAY,
        });
        expect(await store.usage.summary({ keyId: 'nobody' })).toEqual({
          totalRequests: 0, requestsByProvider: {}, averageResponseMs: 0, lastUpdated: null,
        });
      });

      test('summary rounds the average to two decimals', async () => {
        await store.usage.insertBatch([
          usage({ id: 'a', durationMs: 1 }),
          usage({ id: 'b', durationMs: 1 }),
          usage({ id: 'c', durationMs: 2 }),
        ]);
        expect((await store.usage.summary()).averageResponseMs).toBe(1.33);
      });

      test('totalsForKey, with since inclusive', async () => {
        await store.usage.insertBatch(ALL);
        expect(await store.usage.totalsForKey('k1')).toEqual(totals(R.r1, R.r2));
        expect(await store.usage.totalsForKey('k1', D0 + DAY - 1)).toEqual(totals(R.r2));
        expect(await store.usage.totalsForKey('k1', D0 + DAY)).toEqual(ZERO);
        expect(await store.usage.totalsForKey('k2', D0 + DAY + 1)).toEqual(totals(R.r5));
        expect(await store.usage.totalsForKey('nobody')).toEqual(ZERO);
      });
    });
  });
}
