import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { SignJWT } from 'jose';
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

/**
 * The admin API's audit trail and security settings, through the router with a real (in-memory
 * SQLite) store: each admin action leaves exactly one record, refusals are `admin.login_failed`,
 * and no record or answer carries a secret.
 */

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const ADMIN = 'sk-admin-unit-0123456789';
const TEAM_KEY = 'sk-team-red-0123456789';
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

const jwt = (claims: Record<string, unknown>, secret = JWT_SECRET) =>
  new SignJWT({ sub: 'carol@example.com', ...claims }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret));

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
  settings = new SettingsService({ content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] });
  await settings.attach(store.settings, log, 60_000);
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  audit = new AuditService(store.audit, settings, metrics.api, log, { flushIntervalMs: 5 });
  const verifier = await JwtVerifier.create({ hs256_secret: JWT_SECRET, roles_claim: 'roles', team_claim: 'team', leeway_seconds: 0 }, '/');
  const authenticate = adminAuthenticator(keys, metrics, { jwt: verifier, audit });
  router = new AdminRouter();
  registerKeyRoutes(router, keys, metrics, authenticate, audit);
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
