import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { chat, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';

/**
 * Keys across restarts, on SQLite and on PostgreSQL: a revocation is permanent whatever the key's
 * source; a key from keys.json or the configuration follows it (changed settings applied at the
 * next start, a removed key revoked), and the keys API may revoke such a key but not change it.
 */

const ADMIN = 'sk-restart-root-admin-0123456789';
const SECOND_ADMIN = 'sk-restart-second-admin-0123456789';
const DROPPED_ADMIN = 'sk-restart-dropped-admin-0123456789';
const ENV_ADMIN = 'sk-restart-env-admin-0123456789';
const REVOKED = 'vk_restart_revoked_0123456789';
const CHANGED = 'vk_restart_changed_0123456789';
const REMOVED = 'vk_restart_removed_0123456789';
const KEPT = 'vk_restart_kept_0123456789';
const ENTRY = 'sk-restart-entry-0123456789';
const DROPPED_ENTRY = 'sk-restart-dropped-entry-0123456789';
const SECRETS = [ADMIN, SECOND_ADMIN, DROPPED_ADMIN, ENV_ADMIN, REVOKED, CHANGED, REMOVED, KEPT, ENTRY, DROPPED_ENTRY];

interface Setup {
  keysFile: string;
  /** Gateway config for this store (data_dir), besides the keys. */
  config: Record<string, any>;
  env: NodeJS.ProcessEnv;
}

const firstKeysJson = {
  virtual_keys: {
    [REVOKED]: { name: 'file-revoked', user: 'r' },
    [CHANGED]: { name: 'file-changed', user: 'c', allowed_models: ['not-echo'], quota_limit: 5 },
    [REMOVED]: { name: 'file-removed', user: 'x' },
    [KEPT]: { name: 'file-kept', user: 'k' },
  },
};
// The next version of the file: one key gone, one key's settings changed; the revoked key still listed.
const secondKeysJson = {
  virtual_keys: {
    [REVOKED]: { name: 'file-revoked', user: 'r' },
    [CHANGED]: { name: 'file-changed', user: 'c', allowed_models: ['echo'], quota_limit: 50 },
    [KEPT]: { name: 'file-kept', user: 'k' },
  },
};

const firstKeys = {
  admin: [{ key: ADMIN, id: 'root' }, { key: SECOND_ADMIN, id: 'second-admin' }, { key: DROPPED_ADMIN, id: 'dropped-admin' }],
  entries: { [ENTRY]: { name: 'entry' }, [DROPPED_ENTRY]: { name: 'dropped-entry' } },
};
const secondKeys = { admin: [{ key: ADMIN, id: 'root' }, { key: SECOND_ADMIN, id: 'second-admin' }], entries: { [ENTRY]: { name: 'entry' } } };

function start(setup: Setup, keys: Record<string, unknown>): Promise<RunningGateway> {
  return startGateway({
    env: { GATEWAY_ADMIN_KEY: ENV_ADMIN, GATEWAY_ENCRYPTION_KEY: 'keys-restart-test-encryption-passphrase', ...setup.env },
    config: { ...setup.config, keys: { file: setup.keysFile, ...keys }, plugins: testPlugins() },
  });
}

const echo = (gw: RunningGateway, key: string) => chat(gw.url, { model: 'echo', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${key}` });

async function status(gw: RunningGateway, key: string): Promise<{ status: number; code?: string }> {
  const res = await echo(gw, key);
  const body = (await res.json()) as any;
  return { status: res.status, code: body.error?.code };
}

async function api(gw: RunningGateway, method: string, p: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function idOf(gw: RunningGateway, name: string): Promise<string> {
  const { body } = await api(gw, 'GET', '/v1/keys');
  const key = body.data.find((k: { name: string }) => k.name === name);
  if (!key) throw new Error(`no key named ${name}`);
  return key.id;
}

const revoked = { status: 401, code: 'revoked_api_key' };
const ok = { status: 200, code: undefined };

function restartScenarios(open: () => Promise<Setup>, replicas: number): void {
  let setup: Setup;
  let gateways: RunningGateway[] = [];
  let apiKey: string;

  beforeAll(async () => {
    setup = await open();
    fs.writeFileSync(setup.keysFile, JSON.stringify(firstKeysJson));
    gateways = [await start(setup, firstKeys)];
  }, 60_000);

  afterAll(async () => {
    for (const gw of gateways) await gw.stop();
  });

  test('first start: keys of every source may be revoked through the API', async () => {
    const [gw] = gateways;
    for (const key of [REVOKED, REMOVED, KEPT, ENTRY, DROPPED_ENTRY, ENV_ADMIN]) expect(await status(gw, key)).toEqual(ok);
    expect((await status(gw, CHANGED)).status).toBe(403);

    // A file key, a configuration entry, a keys.admin key and GATEWAY_ADMIN_KEY's key.
    for (const name of ['file-revoked', 'entry', 'second-admin', 'env-admin']) {
      const res = await api(gw, 'DELETE', `/v1/keys/${await idOf(gw, name)}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'revoked', revoked: true });
    }
    expect(await status(gw, REVOKED)).toEqual(revoked);
    expect(await status(gw, ENTRY)).toEqual(revoked);
    expect((await api(gw, 'GET', '/v1/keys', undefined, SECOND_ADMIN)).status).toBe(401);
    expect((await api(gw, 'GET', '/v1/keys', undefined, ENV_ADMIN)).status).toBe(401);

    // An API-created key may be changed; an import must never touch it.
    const created = await api(gw, 'POST', '/v1/keys', { name: 'via-api' });
    expect(created.status).toBe(201);
    apiKey = created.body.key;
    expect((await api(gw, 'PATCH', `/v1/keys/${created.body.id}`, { quota_limit: 7 })).status).toBe(200);
  });

  test('the API refuses any other change to a key from keys.json or the configuration, with 409', async () => {
    const [gw] = gateways;
    const changedId = await idOf(gw, 'file-changed');
    for (const method of ['PATCH', 'PUT']) {
      const refused = await api(gw, method, `/v1/keys/${changedId}`, { allowed_models: ['echo'] });
      expect(refused.status).toBe(409);
      expect(refused.body).toEqual({ error: { message: expect.stringContaining('keys.json'), type: 'invalid_request_error', param: 'id', code: 'key_conflict' } });
    }
    expect((await api(gw, 'GET', `/v1/keys/${changedId}`)).body).toMatchObject({ allowed_models: ['not-echo'], quota_limit: 5, source: 'file' });
    expect((await status(gw, CHANGED)).status).toBe(403);
    // Configuration entries and admin keys, revoked or not: the same, naming the configuration.
    for (const name of ['entry', 'root', 'env-admin']) {
      const refused = await api(gw, 'PATCH', `/v1/keys/${await idOf(gw, name)}`, { team: 'elsewhere' });
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'key_conflict', message: expect.stringContaining('the configuration') });
    }
  });

  test(`restart${replicas > 1 ? ` as ${replicas} replicas at once` : ''} with a changed keys.json and configuration`, async () => {
    for (const gw of gateways) expect(await gw.stop()).toBe(0);
    fs.writeFileSync(setup.keysFile, JSON.stringify(secondKeysJson));
    gateways = await Promise.all(Array.from({ length: replicas }, () => start(setup, secondKeys)));

    for (const gw of gateways) {
      // Revoked through the API: still revoked, though keys.json and the configuration still list them.
      expect(await status(gw, REVOKED)).toEqual(revoked);
      expect(await status(gw, ENTRY)).toEqual(revoked);
      expect((await api(gw, 'GET', '/v1/keys', undefined, SECOND_ADMIN)).status).toBe(401);
      expect((await api(gw, 'GET', '/v1/keys', undefined, ENV_ADMIN)).status).toBe(401);
      // Removed from keys.json, keys.entries, keys.admin: revoked.
      expect(await status(gw, REMOVED)).toEqual(revoked);
      expect(await status(gw, DROPPED_ENTRY)).toEqual(revoked);
      expect((await api(gw, 'GET', '/v1/keys', undefined, DROPPED_ADMIN)).status).toBe(401);
      // Changed in keys.json: the new settings apply.
      expect(await status(gw, CHANGED)).toEqual(ok);
      expect((await api(gw, 'GET', `/v1/keys/${await idOf(gw, 'file-changed')}`)).body).toMatchObject({ allowed_models: ['echo'], quota_limit: 50, status: 'active' });
      // Untouched: a key still in the file, and the API-created key with its PATCHed quota.
      expect(await status(gw, KEPT)).toEqual(ok);
      expect(await status(gw, apiKey)).toEqual(ok);
      expect((await api(gw, 'GET', `/v1/keys/${await idOf(gw, 'via-api')}`)).body).toMatchObject({ quota_limit: 7, status: 'active', source: 'api' });
    }
  }, 60_000);

  test('another restart changes nothing, and no secret reached the logs', async () => {
    for (const gw of gateways) expect(await gw.stop()).toBe(0);
    const logs = gateways.map((gw) => gw.output()).join('\n');
    gateways = [await start(setup, secondKeys)];
    const [gw] = gateways;
    for (const key of [REVOKED, ENTRY, REMOVED, DROPPED_ENTRY]) expect(await status(gw, key)).toEqual(revoked);
    for (const key of [CHANGED, KEPT, apiKey]) expect(await status(gw, key)).toEqual(ok);
    expect((await api(gw, 'GET', '/v1/keys', undefined, ENV_ADMIN)).status).toBe(401);
    for (const secret of [...SECRETS, apiKey]) expect(logs + gw.output()).not.toContain(secret);
  }, 60_000);
}

describe('keys across restarts on SQLite', () => {
  restartScenarios(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-keys-restart-'));
    return { keysFile: path.join(dir, 'keys.json'), config: { store: { data_dir: path.join(dir, 'data') } }, env: { DATABASE_URL: '' } };
  }, 1);
});

const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl && process.env.CI === 'true') {
  test('the PostgreSQL restart scenarios need TEST_DATABASE_URL', () => {
    throw new Error('TEST_DATABASE_URL is not set: CI must run the PostgreSQL suites (see .ci/run)');
  });
}

(pgUrl ? describe : describe.skip)('keys across restarts on PostgreSQL, two replicas sharing it', () => {
  const dbName = `gw_keys_restart_${process.pid}_${Date.now()}`;
  let adminClient: Client;

  restartScenarios(async () => {
    adminClient = new Client({ connectionString: pgUrl });
    await adminClient.connect();
    await adminClient.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(pgUrl!);
    url.pathname = `/${dbName}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-keys-restart-pg-'));
    return { keysFile: path.join(dir, 'keys.json'), config: {}, env: { DATABASE_URL: url.toString() } };
  }, 2);

  // Declared after the scenarios' own afterAll, so the gateways have stopped first.
  afterAll(async () => {
    await adminClient?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await adminClient?.end();
  });
});
