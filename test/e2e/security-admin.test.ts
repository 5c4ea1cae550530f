import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type KeyLike } from 'jose';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';

/**
 * The audit log, the security configuration API, data isolation and JWT admin authentication,
 * end to end through real Envoy (SQLite store): every admin action leaves exactly one audit
 * record, settings changed through the API apply to the very next request, and a key of team A
 * never reads team B's usage while isolation is on.
 */

const ADMIN = 'sk-admin-security-0123456789';
const A1 = 'sk-team-a-one-0123456789';
const A2 = 'sk-team-a-two-0123456789';
const B1 = 'sk-team-b-one-0123456789';
const JWT_SECRET = 'hs256-secret-for-the-e2e-test-0123456789';
const PROVIDER_SECRET = 'sk-literal-provider-secret-e2e';
const AUDIENCE = 'llm-gateway-admin';

let gw: RunningGateway;
let rsa: { publicKey: KeyLike; privateKey: KeyLike };
let n = 0;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-security-'));
  rsa = await generateKeyPair('RS256');
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' }] }));
  gw = await startGateway({
    env: { ADMIN_JWT_SECRET: JWT_SECRET },
    config: {
      keys: {
        admin: [{ key: ADMIN, id: 'root' }],
        entries: {
          [A1]: { user: 'a1', team: 'team-a' },
          [A2]: { user: 'a2', team: 'team-a' },
          [B1]: { user: 'b1', team: 'team-b' },
        },
      },
      admin_auth: { jwt: { hs256_secret: 'env:ADMIN_JWT_SECRET', jwks_file: path.join(dir, 'jwks.json'), audience: AUDIENCE } },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
});

interface Answer {
  status: number;
  body: any;
  requestId: string;
}

/** One call through Envoy with our own x-request-id, so its audit record can be found. */
async function call(method: string, p: string, opts: { token?: string; body?: unknown } = {}): Promise<Answer> {
  const requestId = `sec-e2e-${process.pid}-${++n}`;
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.url}${p}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: JSON.parse(text), requestId };
}

/** The audit records of one request (read back through GET /v1/audit). */
async function auditOf(requestId: string, action?: string): Promise<any[]> {
  const q = new URLSearchParams({ request_id: requestId, ...(action ? { action } : {}) });
  const res = await call('GET', `/v1/audit?${q}`, { token: ADMIN });
  expect(res.status).toBe(200);
  return res.body.data;
}

const hsToken = (claims: Record<string, unknown>, secret = JWT_SECRET) =>
  new SignJWT({ aud: AUDIENCE, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
const now = () => Math.floor(Date.now() / 1000);

test('every admin action leaves exactly one audit record, with actor, target, outcome and request id, and no secret', async () => {
  const done: Array<[Answer, string, string | null, string]> = [];
  const created = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'temp', team: 'team-a' } });
  expect(created.status).toBe(201);
  const keyId = created.body.id;
  done.push([created, 'key.created', keyId, 'success']);
  done.push([await call('PATCH', `/v1/keys/${keyId}`, { token: ADMIN, body: { team: 'team-b' } }), 'key.updated', keyId, 'success']);
  done.push([await call('DELETE', `/v1/keys/${keyId}`, { token: ADMIN }), 'key.revoked', keyId, 'success']);
  done.push([await call('DELETE', '/v1/keys/key_missing', { token: ADMIN }), 'key.revoked', 'key_missing', 'failure']);

  const spec = { name: 'audited', type: 'openai-compatible', base_url: `http://127.0.0.1:${gw.ports.echo}/v1`, api_key: PROVIDER_SECRET, model_names: ['audited-model'] };
  done.push([await call('POST', '/v1/providers', { token: ADMIN, body: spec }), 'provider.added', 'audited', 'success']);
  done.push([await call('PUT', '/v1/providers/audited', { token: ADMIN, body: { ...spec, model_names: ['audited-2'] } }), 'provider.changed', 'audited', 'success']);
  done.push([await call('DELETE', '/v1/providers/audited', { token: ADMIN }), 'provider.removed', 'audited', 'success']);

  done.push([await call('PUT', '/v1/security/config', { token: ADMIN, body: { content_filtering_enabled: true } }), 'security_config.changed', null, 'success']);

  done.push([await call('GET', '/v1/keys'), 'admin.login_failed', 'GET /v1/keys', 'denied']);
  done.push([await call('GET', '/v1/keys', { token: 'sk-not-a-key-0123456789' }), 'admin.login_failed', 'GET /v1/keys', 'denied']);
  done.push([await call('POST', '/v1/providers', { token: A1, body: spec }), 'admin.login_failed', 'POST /v1/providers', 'denied']);

  for (const [answer, action, target, outcome] of done) {
    expect([answer.requestId, answer.status < 400]).toEqual([answer.requestId, outcome === 'success']);
    const records = await auditOf(answer.requestId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ object: 'audit.record', action, target, outcome, request_id: answer.requestId });
    expect(Date.now() - Date.parse(records[0].time)).toBeLessThan(60_000);
    if (outcome !== 'denied') expect(records[0].actor).toEqual({ key_id: 'root', identity: 'root', team: null });
  }
  // The key holder refused on an admin endpoint is named; unknown credentials are not.
  expect((await auditOf(done.at(-1)![0].requestId))[0].actor).toMatchObject({ identity: 'a1', team: 'team-a' });
  expect((await auditOf(done.at(-2)![0].requestId))[0].actor).toEqual({ key_id: null, identity: null, team: null });

  const all = await call('GET', '/v1/audit?limit=1000', { token: ADMIN });
  const text = JSON.stringify(all.body);
  for (const secret of [ADMIN, A1, PROVIDER_SECRET, created.body.key, 'sk-not-a-key-0123456789']) expect(text).not.toContain(secret);
  // Filtering by action and time works through Envoy too (ISO and epoch times, as /v1/usage).
  const since = new Date(Date.now() - 60_000).toISOString();
  const provider = await call('GET', `/v1/audit?action=provider.added&start=${encodeURIComponent(since)}&end=${Date.now() + 1000}`, { token: ADMIN });
  expect(provider.body.data.map((r: any) => r.request_id)).toContain(done[4]![0].requestId);
  expect(provider.body.data.every((r: any) => r.action === 'provider.added')).toBe(true);
});

test('a bad PUT is refused with 400 naming the setting, and nothing changes', async () => {
  const before = (await call('GET', '/v1/security/config', { token: ADMIN })).body;
  for (const [body, param] of [
    [{ data_isolation_enabled: 'yes' }, 'data_isolation_enabled'],
    [{ audit_logging: false }, 'audit_logging'],
    [{ content_filters: { not: 'a list' } }, 'content_filters'],
  ] as const) {
    const res = await call('PUT', '/v1/security/config', { token: ADMIN, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_settings', param });
    expect((await auditOf(res.requestId))[0]).toMatchObject({ action: 'security_config.changed', outcome: 'failure', details: { param } });
  }
  expect((await call('GET', '/v1/security/config', { token: ADMIN })).body).toEqual(before);
  // Not for key holders.
  expect((await call('PUT', '/v1/security/config', { token: A1, body: { data_isolation_enabled: true } })).status).toBe(403);
  expect((await call('GET', '/v1/security/config', { token: A1 })).status).toBe(403);
});

test('audit_logging_enabled toggled through the API applies to the very next request', async () => {
  const off = await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: false } });
  expect(off.body.audit_logging_enabled).toBe(false);
  // The change that turns auditing off is itself recorded.
  expect(await auditOf(off.requestId, 'security_config.changed')).toHaveLength(1);
  const silent = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'unaudited' } });
  expect(silent.status).toBe(201);
  const silentFail = await call('GET', '/v1/keys', { token: 'sk-wrong-0123456789' });
  const on = await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: true } });
  const loud = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'audited' } });
  expect(await auditOf(silent.requestId)).toEqual([]);
  expect(await auditOf(silentFail.requestId)).toEqual([]);
  expect(await auditOf(on.requestId)).toHaveLength(1);
  expect(await auditOf(loud.requestId, 'key.created')).toHaveLength(1);
});

test('data isolation: toggled through the API it applies to the very next request; team A never reads team B', async () => {
  for (const key of [A1, A2, A2, B1]) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'usage please' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
  }
  const byUser = async (token: string, query = '') => {
    const res = await call('GET', `/v1/usage?group_by=user${query}`, { token });
    expect(res.status).toBe(200);
    return { scope: res.body.scope, users: Object.fromEntries(res.body.data.map((r: any) => [r.group, r.requests])) };
  };
  await waitFor(async () => (await byUser(ADMIN)).users.b1 === 1, 5000);

  // Off (the default): a key sees its own key only.
  expect(await byUser(A1, '&team=team-b')).toEqual({ scope: 'key', users: { a1: 1 } });

  const on = await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: true } });
  expect(on.status).toBe(200);
  // The very next request: widened to the key's team, never beyond, whatever it asks for.
  expect(await byUser(A1)).toEqual({ scope: 'team', users: { a1: 1, a2: 2 } });
  expect(await byUser(A1, '&team=team-b')).toEqual({ scope: 'team', users: { a1: 1, a2: 2 } });
  const summary = await call('GET', '/v1/metrics/summary', { token: A2 });
  expect(summary.body.total_requests).toBe(3);
  expect(await byUser(B1)).toEqual({ scope: 'team', users: { b1: 1 } });
  // An admin without a team still sees everything.
  expect((await byUser(ADMIN)).scope).toBe('all');
  // With isolation on, a key holder may read its own team's audit records, and only those.
  const teamAudit = await call('GET', '/v1/audit?team=team-b', { token: A1 });
  expect(teamAudit.status).toBe(200);
  expect(teamAudit.body.data.every((r: any) => r.actor.team === 'team-a')).toBe(true);
  expect(teamAudit.body.data.length).toBeGreaterThan(0);

  const off = await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: false } });
  expect(off.status).toBe(200);
  expect(await byUser(A1)).toEqual({ scope: 'key', users: { a1: 1 } });
  expect((await call('GET', '/v1/audit', { token: A1 })).status).toBe(403);
  expect((await auditOf(on.requestId))[0].details).toMatchObject({ changed: ['data_isolation_enabled'], data_isolation_enabled: true });
});

describe('JWT admin authentication', () => {
  test('HS256 and RS256 (JWKS) tokens with the admin role work; the subject is the audited actor', async () => {
    const hs = await hsToken({ sub: 'ops@example.com', roles: ['admin'], team: 'platform', exp: now() + 300 });
    expect((await call('GET', '/v1/keys', { token: hs })).status).toBe(200);
    const created = await call('POST', '/v1/keys', { token: hs, body: { user: 'made-by-jwt' } });
    expect(created.status).toBe(201);
    expect((await auditOf(created.requestId))[0].actor).toEqual({ key_id: null, identity: 'ops@example.com', team: 'platform' });

    const rs = await new SignJWT({ sub: 'idp-user', roles: 'admin', aud: AUDIENCE })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const res = await call('GET', '/v1/security/config', { token: rs });
    expect(res.status).toBe(200);
    expect(res.body).toHaveProperty('audit_logging_enabled');
  });

  test.each([
    ['forged (wrong secret)', () => hsToken({ sub: 'x', roles: ['admin'], exp: now() + 300 }, 'an-attacker-secret-of-more-than-32-bytes'), 401, 'invalid_token', 'bad_signature'],
    ['expired', () => hsToken({ sub: 'x', roles: ['admin'], exp: now() - 3600 }), 401, 'expired_token', 'expired'],
    ['alg none', async () => new UnsecuredJWT({ sub: 'x', roles: ['admin'], aud: AUDIENCE, exp: now() + 300 }).encode(), 401, 'invalid_token', 'algorithm_not_allowed'],
    ['wrong audience', () => hsToken({ sub: 'x', roles: ['admin'], aud: 'other', exp: now() + 300 }), 401, 'invalid_token', 'wrong_audience'],
    ['no admin role', () => hsToken({ sub: 'x', roles: ['viewer'], exp: now() + 300 }), 403, 'insufficient_permissions', 'missing_admin_role'],
  ])('%s → %i %s, audited as admin.login_failed', async (_name, make, status, code, reason) => {
    const token = await make();
    const res = await call('POST', '/v1/keys', { token, body: { user: 'should-not-exist' } });
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code });
    expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    const [record] = await auditOf(res.requestId);
    expect(record).toMatchObject({ action: 'admin.login_failed', outcome: 'denied', target: 'POST /v1/keys', details: { credential: 'jwt', reason } });
    expect(JSON.stringify(record)).not.toContain(token);
  });
});

test('no secret or token reached the logs', () => {
  const out = gw.output();
  for (const secret of [ADMIN, A1, A2, B1, JWT_SECRET, PROVIDER_SECRET]) expect(out).not.toContain(secret);
  expect(out).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
});
