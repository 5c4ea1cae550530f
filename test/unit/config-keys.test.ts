import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { importKeys } from '../../src/keys/config-keys';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { SqliteStore } from '../../src/store/sqlite';

/**
 * The import at start (importKeys) against a real SQLite store: rotations, removals and moves
 * between keys.json and the configuration, and revocations that no import undoes.
 */

const box = new SecretBox(randomBytes(32));
let store: SqliteStore;
let dir: string;
let logged: string;

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-keys-'));
  logged = '';
});

afterEach(() => store.close());

/** One start: a fresh KeyService (as a new process has) importing this configuration. */
async function start(keys: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file?: Record<string, unknown>): Promise<KeyService> {
  if (file) fs.writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ virtual_keys: file }));
  const log = pino({ level: 'info' }, { write: (line: string) => void (logged += line) });
  const service = new KeyService(store.keys, box);
  await importKeys(parseConfig({ keys }, dir, env), service, log, env);
  return service;
}

const works = async (svc: KeyService, secret: string) => (await svc.authenticate(secret)).ok;

test('a new GATEWAY_ADMIN_KEY value is a new key: the old one is revoked, the new one works even after a revocation', async () => {
  let svc = await start({}, { GATEWAY_ADMIN_KEY: 'sk-env-one' });
  expect(await works(svc, 'sk-env-one')).toBe(true);
  const first = (await store.keys.list())[0]!;
  expect(first).toMatchObject({ name: 'env-admin', source: 'config', roles: ['admin', 'completion', 'embedding'] });
  await svc.revoke(first.id);

  svc = await start({}, { GATEWAY_ADMIN_KEY: 'sk-env-one' });
  expect(await svc.authenticate('sk-env-one')).toEqual({ ok: false, reason: 'revoked' });
  svc = await start({}, { GATEWAY_ADMIN_KEY: 'sk-env-two' });
  expect(await works(svc, 'sk-env-two')).toBe(true);
  // Unset: its key is no longer in the configuration.
  svc = await start({}, {});
  expect(await svc.authenticate('sk-env-two')).toEqual({ ok: false, reason: 'revoked' });
});

test('a keys.admin key rotates under its id; once its id is revoked, a new key there is refused with a warning', async () => {
  let svc = await start({ admin: [{ id: 'ops', key: 'sk-ops-one' }] });
  svc = await start({ admin: [{ id: 'ops', key: 'sk-ops-two' }] });
  expect(await svc.authenticate('sk-ops-one')).toEqual({ ok: false, reason: 'invalid' });
  expect(await works(svc, 'sk-ops-two')).toBe(true);
  await svc.revoke('ops');

  svc = await start({ admin: [{ id: 'ops', key: 'sk-ops-three' }] });
  expect(await svc.authenticate('sk-ops-three')).toEqual({ ok: false, reason: 'invalid' });
  expect(await svc.authenticate('sk-ops-two')).toEqual({ ok: false, reason: 'revoked' });
  expect(logged).toContain('"key_id":"ops"');
  expect(logged).toContain('use another id');
  for (const secret of ['sk-ops-one', 'sk-ops-two', 'sk-ops-three']) expect(logged).not.toContain(secret);
});

test('without a keys file, file keys are left alone; an empty one revokes them', async () => {
  let svc = await start({}, {}, { 'vk-file-key': { user: 'f' } });
  fs.rmSync(path.join(dir, 'keys.json'));
  svc = await start({});
  expect(await works(svc, 'vk-file-key')).toBe(true);
  svc = await start({}, {}, {});
  expect(await svc.authenticate('vk-file-key')).toEqual({ ok: false, reason: 'revoked' });
  expect(logged).toContain('keys no longer in the keys file revoked');
});

test('a secret moved from keys.entries to keys.json keeps its key and is not revoked', async () => {
  let svc = await start({ entries: { 'sk-moving': { user: 'm' } } });
  const before = (await store.keys.list())[0]!;
  svc = await start({ entries: {} }, {}, { 'sk-moving': { user: 'm2' } });
  expect(await works(svc, 'sk-moving')).toBe(true);
  expect(await store.keys.list()).toEqual([expect.objectContaining({ id: before.id, user: 'm2', source: 'file', revokedAt: null })]);
});

test('an import never touches keys created through the API', async () => {
  let svc = await start({ entries: { 'sk-entry': {} } });
  const { key, secret } = await svc.create({ user: 'api-user' });
  svc = await start({ entries: {} }, {}, {});
  expect(await works(svc, secret)).toBe(true);
  expect(await svc.get(key.id)).toMatchObject({ status: 'active', user: 'api-user' });
  expect(await svc.authenticate('sk-entry')).toEqual({ ok: false, reason: 'revoked' });
});
