import { randomBytes } from 'node:crypto';
import { KeyService, KeySpecError, KeyStoreUnavailableError } from '../../src/keys/service';
import { hashSecret, SecretBox } from '../../src/keys/secrets';
import { presentedSecret } from '../../src/keys/presented';
import type { KeyStore, VirtualKeyRecord } from '../../src/store/types';

/** An in-memory KeyStore for unit tests of the service's own logic (the real stores have their own suite). */
function memoryStore() {
  const byId = new Map<string, VirtualKeyRecord>();
  let down = false;
  let lookups = 0;
  const store: KeyStore = {
    async insert(r) { byId.set(r.id, { ...r }); },
    async importKey(r) {
      const had = byId.get(r.id);
      if (had && (had.revokedAt !== null || had.source === 'api')) return false;
      byId.set(r.id, { ...r, createdAt: had?.createdAt ?? r.createdAt });
      return true;
    },
    async getById(id) { const r = byId.get(id); return r && structuredClone(r); },
    async getByHash(h) {
      lookups++;
      if (down) throw new Error('db down');
      const r = [...byId.values()].find((x) => x.hash === h);
      return r && structuredClone(r);
    },
    async list() { return [...byId.values()]; },
    async update(id, patch, now) { const r = byId.get(id); if (!r) return undefined; Object.assign(r, patch, { updatedAt: now }); return structuredClone(r); },
    async revoke(id, now) { const r = byId.get(id); if (!r) return false; r.revokedAt ??= now; return true; },
    async revokeUnlisted(source, keep, now) {
      const gone = [...byId.values()].filter((r) => r.source === source && r.revokedAt === null && !keep.includes(r.id));
      for (const r of gone) r.revokedAt = now;
      return gone.map((r) => r.id);
    },
  };
  return { store, setDown: (d: boolean) => (down = d), lookups: () => lookups };
}

const box = new SecretBox(randomBytes(32));

describe('KeyService', () => {
  let clock = 1_000_000;
  const now = () => clock;

  test('created keys authenticate; their secret is never stored; provider keys are sealed', async () => {
    const m = memoryStore();
    const svc = new KeyService(m.store, box, { now });
    const { key, secret } = await svc.create({ user: 'u', provider: 'openai', api_key: 'sk-real' });
    expect(secret).toMatch(/^sk-gw-[A-Za-z0-9]{32}$/);
    const stored = (await m.store.getById(key.id))!;
    expect(stored.hash).toBe(hashSecret(secret));
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(stored.providerKey).toMatch(/^enc:v1:/);
    expect(JSON.stringify(stored)).not.toContain('sk-real');
    const r = await svc.authenticate(secret);
    expect(r.ok && svc.providerCredential(r.key)).toBe('sk-real');
    expect((await svc.authenticate(secret + 'x')).ok).toBe(false);
  });

  test('revocation is immediate here and at most cacheTtlMs stale elsewhere', async () => {
    const m = memoryStore();
    const here = new KeyService(m.store, box, { now, cacheTtlMs: 2000 });
    const elsewhere = new KeyService(m.store, box, { now, cacheTtlMs: 2000 });
    const { key, secret } = await here.create({});
    expect((await elsewhere.authenticate(secret)).ok).toBe(true);
    await here.revoke(key.id);
    expect(await here.authenticate(secret)).toEqual({ ok: false, reason: 'revoked' });
    expect((await elsewhere.authenticate(secret)).ok).toBe(true); // cached on the other replica
    clock += 2001;
    expect(await elsewhere.authenticate(secret)).toEqual({ ok: false, reason: 'revoked' });
  });

  test('expired keys are refused', async () => {
    const svc = new KeyService(memoryStore().store, box, { now });
    const { secret } = await svc.create({ expires_at: clock + 10 });
    expect((await svc.authenticate(secret)).ok).toBe(true);
    clock += 11;
    expect(await svc.authenticate(secret)).toEqual({ ok: false, reason: 'expired' });
  });

  test('during a store outage known keys are served from the cache, unknown ones are an outage', async () => {
    const m = memoryStore();
    const svc = new KeyService(m.store, box, { now, cacheTtlMs: 10 });
    const { secret } = await svc.create({});
    expect((await svc.authenticate(secret)).ok).toBe(true);
    m.setDown(true);
    clock += 100;
    expect((await svc.authenticate(secret)).ok).toBe(true);
    await expect(svc.authenticate('sk-gw-unknown')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
  });

  test('keys.json names are secrets: ids are derived from their digest', async () => {
    const svc = new KeyService(memoryStore().store, box, { now });
    const rec = await svc.importKey({ secret: 'vk_user1_openai' }, { provider: 'openai', api_key: 'env:OPENAI_API_KEY' }, 'file');
    expect(rec.id).toBe(`vk_${hashSecret('vk_user1_openai').slice(0, 16)}`);
    expect(rec.providerKey).toBe('env:OPENAI_API_KEY');
    await expect(svc.importKey({ secret: 'not-langchain' }, { tier: 'langchain' }, 'file')).rejects.toBeInstanceOf(KeySpecError);
  });

  test.each([
    [{ quota_limit: -1 }, 'quota_limit'],
    [{ roles: ['root'] }, 'roles.0'],
    [{ expires_at: 'tomorrow' }, 'expires_at'],
    [{ colour: 'red' }, 'colour'],
  ])('invalid settings %j are refused naming %s', async (spec, param) => {
    const svc = new KeyService(memoryStore().store, box, { now });
    await expect(svc.create(spec as never)).rejects.toMatchObject({ param });
  });
});

test.each([
  [{ authorization: 'Bearer abc' }, 'abc'],
  [{ authorization: 'bearer   abc  ' }, 'abc'],
  [{ authorization: 'Basic abc' }, undefined],
  [{ 'x-api-key': ' k1 ' }, 'k1'],
  [{ 'api-key': 'k2' }, 'k2'],
  [{}, undefined],
])('presentedSecret(%j)', (headers: Record<string, string>, expected) => {
  expect(presentedSecret((n) => headers[n])).toBe(expected);
});
