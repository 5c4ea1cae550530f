import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { adminAuthenticator } from '../../src/admin/auth';
import { registerAuditRoutes } from '../../src/admin/audit-api';
import { JwtVerifier } from '../../src/admin/jwt';
import { registerKeyRoutes } from '../../src/admin/keys-api';
import { AdminRouter } from '../../src/admin/router';
import { registerSecurityRoutes } from '../../src/admin/security-api';
import { registerUsageRoutes } from '../../src/admin/usage-api';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { GatewayMetrics } from '../../src/observability/metrics';
import { AuditService } from '../../src/security/audit';
import { SettingsService } from '../../src/security/settings';
import { SqliteStore } from '../../src/store/sqlite';
import { hs256Jwt } from '../helpers/jwt';

/**
 * The admin API's audit trail and security settings, through the router with a real (in-memory
 * SQLite) store: each admin action leaves exactly one record, refusals are `admin.login_failed`,
 * and no record or answer carries a secret.
 */

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const ADMIN = 'sk-admin-unit-0123456789';
const TEAM_KEY = 'sk-team-red-0123456789';
const RED_ADMIN = 'sk-red-admin-0123456789';
const JWT_SECRET = 'jwt-secret-for-unit-tests-32-bytes-long';
const PROVIDER_SECRET = 'sk-real-provider-secret-abcdef';

let store: SqliteStore;
let router: AdminRouter;
let audit: AuditService;
let settings: SettingsService;
let n = 0;

async function call(method: string, path: string, opts: { token?: string; body?: unknown; query?: Record<string, string> } = {}) {
  const requestId = `req-${++n}`;
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await router.dispatch({ method, path, query: new URLSearchParams(opts.query ?? {}), headers, body: opts.body });
  return { ...res, requestId, body: res.body as any };
}

const jwt = (claims: Record<string, unknown>, secret = JWT_SECRET) => hs256Jwt({ sub: 'carol@example.com', ...claims }, secret, '5m');

async function recordsOf(requestId: string) {
  await audit.flush();
  return store.audit.query({ requestId, limit: 10 });
}

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  const keys = new KeyService(store.keys, new SecretBox(randomBytes(32)));
  await keys.importKey({ secret: ADMIN }, { name: 'root-admin', roles: ['admin'] }, 'config', 'root');
  await keys.importKey({ secret: TEAM_KEY }, { user: 'rita', team: 'red' }, 'config', 'red-key');
  await keys.importKey({ secret: RED_ADMIN }, { user: 'rex', team: 'red', roles: ['admin'] }, 'config', 'red-admin');
  settings = new SettingsService({ content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] });
  await settings.attach(store.settings, log, 60_000);
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  audit = new AuditService(store.audit, settings, metrics.api, log, { flushIntervalMs: 5 });
  const verifier = await JwtVerifier.create({ hs256_secret: JWT_SECRET, roles_claim: 'roles', team_claim: 'team', leeway_seconds: 0 }, '/');
  const authenticate = adminAuthenticator(keys, metrics, { jwt: verifier, audit });
  router = new AdminRouter();
  registerKeyRoutes(router, keys, metrics, authenticate, audit, settings);
  registerUsageRoutes(router, store.usage, authenticate, settings);
  registerSecurityRoutes(router, settings, audit, authenticate);
  registerAuditRoutes(router, audit, settings, authenticate);
});

afterEach(async () => {
  settings.stop();
  await audit.close();
  await store.close();
});

test('key created, updated and revoked: one record each, with actor, target and request id, never the secrets', async () => {
  const created = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'bob', team: 'blue', provider: 'openai', api_key: PROVIDER_SECRET } });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const updated = await call('PATCH', `/v1/keys/${id}`, { token: ADMIN, body: { team: 'green' } });
  const revoked = await call('DELETE', `/v1/keys/${id}`, { token: ADMIN });
  const refused = await call('POST', '/v1/keys', { token: ADMIN, body: { tier: 'platinum' } });
  expect(refused.status).toBe(400);

  const expectations: Array<[typeof created, string, string | null, string]> = [
    [created, 'key.created', id, 'success'],
    [updated, 'key.updated', id, 'success'],
    [revoked, 'key.revoked', id, 'success'],
    [refused, 'key.created', null, 'failure'],
  ];
  for (const [res, action, target, outcome] of expectations) {
    const recs = await recordsOf(res.requestId);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ action, target, outcome, actorKeyId: 'root', actorIdentity: 'root-admin', requestId: res.requestId });
  }
  expect((await recordsOf(created.requestId))[0]!.details).toEqual({ status: 201, fields: ['api_key', 'provider', 'team', 'user'] });
  const everything = JSON.stringify(await store.audit.query({ limit: 100 }));
  for (const secret of [ADMIN, PROVIDER_SECRET, created.body.key]) expect(everything).not.toContain(secret);
});

test.each([
  ['no credentials', undefined, 401, 'missing_credentials'],
  ['an unknown key', 'sk-nobody-0123456789', 401, 'invalid_api_key'],
  ['a key without the admin role', TEAM_KEY, 403, 'missing_admin_role'],
  ['a forged JWT', 'forged', 401, 'bad_signature'],
  ['a JWT without the admin role', 'viewer', 403, 'missing_admin_role'],
])('%s on an admin endpoint → %i, audited as admin.login_failed', async (_name, who, status, reason) => {
  const token = who === 'forged' ? await jwt({ roles: ['admin'] }, 'not-the-secret-but-long-enough-to-sign') : who === 'viewer' ? await jwt({ roles: ['viewer'] }) : who;
  const res = await call('GET', '/v1/keys', { token });
  expect(res.status).toBe(status);
  expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  const recs = await recordsOf(res.requestId);
  expect(recs).toHaveLength(1);
  expect(recs[0]).toMatchObject({ action: 'admin.login_failed', outcome: 'denied', target: 'GET /v1/keys', details: expect.objectContaining({ reason }) });
  if (token) expect(JSON.stringify(recs)).not.toContain(token);
});

test('a JWT admin is the actor by its subject and team', async () => {
  const token = await jwt({ roles: ['admin'], team: 'ops' });
  const res = await call('POST', '/v1/keys', { token, body: { user: 'dave' } });
  expect(res.status).toBe(201);
  expect((await recordsOf(res.requestId))[0]).toMatchObject({ action: 'key.created', actorKeyId: null, actorIdentity: 'carol@example.com', actorTeam: 'ops' });
});

describe('security config', () => {
  test('PUT merges, applies at once, and is audited with what changed', async () => {
    const res = await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: true } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: true, content_filters: [] });
    expect(res.headers?.['x-gateway-settings-version']).toBe('2');
    expect(settings.current().data_isolation_enabled).toBe(true);
    const [rec] = await recordsOf(res.requestId);
    expect(rec).toMatchObject({ action: 'security_config.changed', outcome: 'success', details: { changed: ['data_isolation_enabled'], data_isolation_enabled: true, version: 2 } });
    expect((await call('GET', '/v1/security/config', { token: ADMIN })).body.data_isolation_enabled).toBe(true);
  });

  test.each([
    [{ audit_logging_enabled: 'no' }, 'audit_logging_enabled'],
    [{ bogus: true }, 'bogus'],
    [{ content_filters: 'none' }, 'content_filters'],
    [[true], null],
  ])('a bad PUT %j is refused with 400 naming %s and changes nothing', async (body, param) => {
    const before = settings.current();
    const res = await call('PUT', '/v1/security/config', { token: ADMIN, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_settings', param });
    expect(settings.current()).toBe(before);
    expect((await store.settings.get())?.version).toBe(1);
    expect(await recordsOf(res.requestId)).toEqual([expect.objectContaining({ action: 'security_config.changed', outcome: 'failure' })]);
  });

  test('turning audit logging off is itself recorded; then nothing is until it is on again', async () => {
    const off = await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: false } });
    expect(await recordsOf(off.requestId)).toHaveLength(1);
    const silent = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'x' } });
    const failed = await call('GET', '/v1/keys', { token: 'sk-wrong-0123456789' });
    expect(await recordsOf(silent.requestId)).toEqual([]);
    expect(await recordsOf(failed.requestId)).toEqual([]);
    const on = await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: true } });
    expect(await recordsOf(on.requestId)).toHaveLength(1);
    const loud = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'y' } });
    expect(await recordsOf(loud.requestId)).toHaveLength(1);
  });
});

describe('GET /v1/audit', () => {
  test('filters by action and request id, newest first; bad parameters are 400 naming them', async () => {
    const a = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'a' } });
    await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'b' } });
    const res = await call('GET', '/v1/audit', { token: ADMIN, query: { action: 'key.created' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(2);
    expect(res.body.data[1]).toMatchObject({ object: 'audit.record', action: 'key.created', request_id: a.requestId, actor: { key_id: 'root' } });
    expect(Date.parse(res.body.data[0].time)).toBeGreaterThanOrEqual(Date.parse(res.body.data[1].time));
    const one = await call('GET', '/v1/audit', { token: ADMIN, query: { request_id: a.requestId } });
    expect(one.body.data).toHaveLength(1);
    for (const [param, value] of [['start', 'yesterday'], ['limit', '0'], ['limit', '5000'], ['action', "x' OR 1=1 --"], ['end', '../../etc']]) {
      const bad = await call('GET', '/v1/audit', { token: ADMIN, query: { [param]: value } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.param).toBe(param);
    }
  });

  test('non-admins are refused while isolation is off; with it on they see their team only', async () => {
    await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'a' } });
    const refused = await call('GET', '/v1/audit', { token: TEAM_KEY });
    expect(refused.status).toBe(403);
    await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: true } });
    const red = await call('GET', '/v1/audit', { token: TEAM_KEY, query: { team: 'blue' } });
    expect(red.status).toBe(200);
    expect(red.body.scope).toBe('team');
    // The admin key has no team, so none of its records; the red key's own refusal is red's.
    expect(red.body.data.map((r: any) => r.actor.team)).toEqual(['red']);
    const admin = await call('GET', '/v1/audit', { token: ADMIN });
    expect(admin.body.scope).toBe('all');
  });
});

describe('a team admin', () => {
  beforeEach(async () => {
    await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: true } });
  });

  test('is refused another team\'s key with one admin.permission_denied record, and no key.* record', async () => {
    const blue = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'bob', team: 'blue' } });
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'x' }], ['PUT', { name: 'x' }], ['DELETE', undefined]] as const) {
      const res = await call(method, `/v1/keys/${blue.body.id}`, { token: RED_ADMIN, body });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', param: null });
      // The other key's team is named neither to the caller nor in the record it may read.
      expect(JSON.stringify(res.body)).not.toContain('blue');
      const recs = await recordsOf(res.requestId);
      expect(recs).toEqual([
        expect.objectContaining({ action: 'admin.permission_denied', outcome: 'denied', target: `${method} /v1/keys/${blue.body.id}`, actorKeyId: 'red-admin', actorTeam: 'red' }),
      ]);
      expect(recs[0]!.details).toEqual({ credential: 'api_key', reason: 'other_team_key', status: 403 });
    }
    expect((await call('GET', `/v1/keys/${blue.body.id}`, { token: ADMIN })).body).toMatchObject({ name: null, status: 'active' });
  });

  test('unknown ids and malformed bodies get the answers they would get anyway', async () => {
    expect((await call('DELETE', '/v1/keys/key_missing', { token: RED_ADMIN })).status).toBe(404);
    expect((await call('PATCH', '/v1/keys/key_missing', { token: RED_ADMIN, body: { name: 'x' } })).status).toBe(404);
    const array = await call('POST', '/v1/keys', { token: RED_ADMIN, body: [{ team: 'red' }] });
    expect(array.status).toBe(400);
    expect(array.body.error.code).toBe('invalid_key_settings');
    // No body at all is a key of its team.
    expect((await call('POST', '/v1/keys', { token: RED_ADMIN })).body).toMatchObject({ team: 'red' });
    // A team of the wrong type is still another team.
    expect((await call('POST', '/v1/keys', { token: RED_ADMIN, body: { team: null } })).status).toBe(403);
  });

  test('cannot change the security settings, whatever data isolation says; a JWT team claim counts as a team', async () => {
    const token = await jwt({ roles: ['admin'], team: 'red' });
    for (const isolation of [true, false]) {
      await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: isolation } });
      for (const who of [RED_ADMIN, token]) {
        const res = await call('PUT', '/v1/security/config', { token: who, body: { data_isolation_enabled: !isolation } });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('insufficient_permissions');
        expect(settings.current().data_isolation_enabled).toBe(isolation);
        expect(await recordsOf(res.requestId)).toEqual([expect.objectContaining({ action: 'admin.permission_denied', outcome: 'denied', actorTeam: 'red' })]);
      }
    }
    // An admin JWT without a team is an operator.
    const ops = await call('PUT', '/v1/security/config', { token: await jwt({ roles: ['admin'] }), body: { data_isolation_enabled: true } });
    expect(ops.status).toBe(200);
  });

  test('lists its team\'s keys with isolation on, every team\'s with it off', async () => {
    await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'bob', team: 'blue' } });
    const teams = async () => new Set((await call('GET', '/v1/keys', { token: RED_ADMIN, query: { team: 'blue' } })).body.data.map((k: any) => k.team));
    expect(await teams()).toEqual(new Set(['red']));
    await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: false } });
    expect(await teams()).toEqual(new Set(['blue']));
  });
});
