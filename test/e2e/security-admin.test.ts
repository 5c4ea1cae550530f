import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type KeyLike } from 'jose';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { hs256Jwt } from '../helpers/jwt';

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
const TEAM_ADMIN = 'sk-team-a-admin-0123456789';
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
          [TEAM_ADMIN]: { user: 'lead-a', team: 'team-a', roles: ['admin', 'completion'] },
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

const hsToken = (claims: Record<string, unknown>, secret = JWT_SECRET) => hs256Jwt({ aud: AUDIENCE, ...claims }, secret);
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

describe('team-scoped admins', () => {
  // A team admin: a key of team-a with the admin role, or a JWT whose team claim is team-a.
  const teamAdmins: Array<[string, () => Promise<string>, Record<string, unknown>]> = [
    ['a team admin key', async () => TEAM_ADMIN, { identity: 'lead-a', team: 'team-a' }],
    ['a JWT with a team claim', () => hsToken({ sub: 'lead@team-a', roles: ['admin'], team: 'team-a', exp: now() + 600 }), { key_id: null, identity: 'lead@team-a', team: 'team-a' }],
  ];
  const providerSpec = (name: string) => ({ name, type: 'openai-compatible', base_url: `http://127.0.0.1:${gw.ports.echo}/v1`, api_key: PROVIDER_SECRET, model_names: [`${name}-model`] });

  const setIsolation = async (on: boolean) => {
    const res = await call('PUT', '/v1/security/config', { token: ADMIN, body: { data_isolation_enabled: on } });
    expect(res.status).toBe(200);
  };
  beforeAll(async () => {
    // Usage of both teams, so confined reads have something to leave out.
    for (const key of [A1, B1]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'usage please' }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    await waitFor(async () => {
      const teams = (await call('GET', '/v1/usage?group_by=team', { token: ADMIN })).body.data.map((r: any) => r.group);
      return teams.includes('team-a') && teams.includes('team-b');
    }, 5000);
    await setIsolation(true);
  });
  afterAll(() => setIsolation(false));

  /** A key of team-b made by the operators: what a team-a admin must not touch. */
  async function teamBKey(): Promise<{ id: string; secret: string }> {
    const res = await call('POST', '/v1/keys', { token: ADMIN, body: { user: 'b-victim', name: 'untouched', team: 'team-b' } });
    expect(res.status).toBe(201);
    return { id: res.body.id, secret: res.body.key };
  }

  /** A 403 insufficient_permissions in OpenAI's shape, recorded once as admin.permission_denied by this caller. */
  async function expectDenied(res: Answer, reason: string, actor: Record<string, unknown>): Promise<void> {
    expect(res.status).toBe(403);
    expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'insufficient_permissions' });
    const records = await auditOf(res.requestId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: 'admin.permission_denied', outcome: 'denied', details: { reason, status: 403 }, actor });
  }

  describe.each(teamAdmins)('%s', (_name, credential, actor) => {
    let token: string;
    beforeAll(async () => {
      token = await credential();
    });

    test('lists and reads only its own team\'s keys, whatever team it asks for', async () => {
      const victim = await teamBKey();
      for (const query of ['', '?team=team-b']) {
        const list = await call('GET', `/v1/keys${query}`, { token });
        expect(list.status).toBe(200);
        expect(list.body.data.length).toBeGreaterThanOrEqual(2);
        expect(new Set(list.body.data.map((k: any) => k.team))).toEqual(new Set(['team-a']));
      }
      const get = await call('GET', `/v1/keys/${victim.id}`, { token });
      await expectDenied(get, 'other_team_key', actor);
      expect(JSON.stringify(get.body)).not.toContain('b-victim');
      expect((await call('GET', '/v1/keys/root', { token })).status).toBe(403);
      // The operators still see every team's keys.
      const all = await call('GET', '/v1/keys', { token: ADMIN });
      expect(all.body.data.map((k: any) => k.id)).toEqual(expect.arrayContaining(['root', victim.id]));
    });

    test('creates keys in its own team only: no team means its team, another team is 403', async () => {
      const plain = await call('POST', '/v1/keys', { token, body: { user: 'a-new' } });
      expect(plain.status).toBe(201);
      expect(plain.body.team).toBe('team-a');
      // Not even an admin key can come out without its team.
      const admin = await call('POST', '/v1/keys', { token, body: { user: 'a-admin', roles: ['admin'] } });
      expect(admin.body).toMatchObject({ team: 'team-a', roles: ['admin'] });
      expect((await call('POST', '/v1/keys', { token, body: { user: 'a-named', team: 'team-a' } })).status).toBe(201);

      const other = await call('POST', '/v1/keys', { token, body: { user: 'sneaky', team: 'team-b', roles: ['admin'] } });
      await expectDenied(other, 'other_team', actor);
      expect(other.body.error.param).toBe('team');
      const all = await call('GET', '/v1/keys', { token: ADMIN });
      expect(all.body.data.filter((k: any) => k.user === 'sneaky')).toEqual([]);
    });

    test('cannot change, move or revoke another team\'s key, which keeps working; its own team\'s it can', async () => {
      const victim = await teamBKey();
      await expectDenied(await call('PATCH', `/v1/keys/${victim.id}`, { token, body: { name: 'hijacked' } }), 'other_team_key', actor);
      await expectDenied(await call('PUT', `/v1/keys/${victim.id}`, { token, body: { team: 'team-a' } }), 'other_team_key', actor);
      await expectDenied(await call('DELETE', `/v1/keys/${victim.id}`, { token }), 'other_team_key', actor);
      // Keys of no team (the operators' own) are not its team's either.
      await expectDenied(await call('DELETE', '/v1/keys/root', { token }), 'other_team_key', actor);
      expect((await call('GET', `/v1/keys/${victim.id}`, { token: ADMIN })).body).toMatchObject({ name: 'untouched', team: 'team-b', status: 'active' });
      const chat = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${victim.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'still here' }] }),
      });
      expect(chat.status).toBe(200);
      await chat.text();

      const own = await call('POST', '/v1/keys', { token, body: { user: 'a-own' } });
      await expectDenied(await call('PATCH', `/v1/keys/${own.body.id}`, { token, body: { team: 'team-b' } }), 'other_team', actor);
      expect((await call('PATCH', `/v1/keys/${own.body.id}`, { token, body: { name: 'renamed' } })).body).toMatchObject({ name: 'renamed', team: 'team-a' });
      expect((await call('DELETE', `/v1/keys/${own.body.id}`, { token })).body).toMatchObject({ revoked: true });
    });

    test('cannot change security settings (isolation stays on) or providers, though it may read them', async () => {
      const before = (await call('GET', '/v1/security/config', { token: ADMIN })).body;
      for (const body of [{ data_isolation_enabled: false }, { audit_logging_enabled: false }, { content_filtering_enabled: false }]) {
        await expectDenied(await call('PUT', '/v1/security/config', { token, body }), 'needs_unscoped_admin', actor);
      }
      expect(before.data_isolation_enabled).toBe(true);
      expect((await call('GET', '/v1/security/config', { token: ADMIN })).body).toEqual(before);
      expect((await call('GET', '/v1/security/config', { token })).status).toBe(200);

      const added = `scoped-${n}`;
      await expectDenied(await call('POST', '/v1/providers', { token, body: providerSpec(added) }), 'needs_unscoped_admin', actor);
      expect((await call('GET', `/v1/providers/${added}`, { token: ADMIN })).status).toBe(404);
      // A provider the operators added: neither changed nor removed by a team admin.
      const shared = `shared-${n}`;
      expect((await call('POST', '/v1/providers', { token: ADMIN, body: providerSpec(shared) })).status).toBe(201);
      await expectDenied(await call('PUT', `/v1/providers/${shared}`, { token, body: { ...providerSpec(shared), model_names: ['hijacked'] } }), 'needs_unscoped_admin', actor);
      await expectDenied(await call('DELETE', `/v1/providers/${shared}`, { token }), 'needs_unscoped_admin', actor);
      const kept = await call('GET', `/v1/providers/${shared}`, { token });
      expect(kept.status).toBe(200);
      expect(kept.body.models).toEqual([`${shared}-model`]);
      expect((await call('DELETE', `/v1/providers/${shared}`, { token: ADMIN })).status).toBe(200);
    });

    test('usage and audit reads are confined to its team', async () => {
      const usage = await call('GET', '/v1/usage?group_by=team&team=team-b', { token });
      expect(usage.status).toBe(200);
      expect(usage.body.scope).toBe('team');
      expect(usage.body.data.map((r: any) => r.group)).toEqual(['team-a']);
      const audit = await call('GET', '/v1/audit?team=team-b&limit=1000', { token });
      expect(audit.body.scope).toBe('team');
      expect(audit.body.data.length).toBeGreaterThan(0);
      expect(audit.body.data.every((r: any) => r.actor.team === 'team-a')).toBe(true);
      // Its own refusals are among what it can read back.
      expect(audit.body.data.some((r: any) => r.action === 'admin.permission_denied')).toBe(true);
    });
  });

  test('an admin without a team (a key, or a JWT without a team claim) still does all of it', async () => {
    const jwt = await hsToken({ sub: 'ops@example.com', roles: ['admin'], exp: now() + 600 });
    for (const token of [ADMIN, jwt]) {
      const list = await call('GET', '/v1/keys?team=team-b', { token });
      expect(list.body.data.length).toBeGreaterThan(0);
      expect(list.body.data.every((k: any) => k.team === 'team-b')).toBe(true);
      const created = await call('POST', '/v1/keys', { token, body: { user: 'ops-made', team: 'team-b' } });
      expect(created.status).toBe(201);
      expect((await call('PATCH', `/v1/keys/${created.body.id}`, { token, body: { team: 'team-a' } })).status).toBe(200);
      expect((await call('DELETE', `/v1/keys/${created.body.id}`, { token })).status).toBe(200);
      expect((await call('PUT', '/v1/security/config', { token, body: { content_filtering_enabled: true } })).status).toBe(200);
      const name = `ops-${n}`;
      expect((await call('POST', '/v1/providers', { token, body: providerSpec(name) })).status).toBe(201);
      expect((await call('DELETE', `/v1/providers/${name}`, { token })).status).toBe(200);
    }
  });

  test('with isolation off a team admin reads every team, but still changes only its own and never the settings', async () => {
    await setIsolation(false);
    try {
      const victim = await teamBKey();
      const list = await call('GET', '/v1/keys', { token: TEAM_ADMIN });
      expect(list.body.data.map((k: any) => k.id)).toContain(victim.id);
      expect((await call('GET', `/v1/keys/${victim.id}`, { token: TEAM_ADMIN })).status).toBe(200);
      await expectDenied(await call('DELETE', `/v1/keys/${victim.id}`, { token: TEAM_ADMIN }), 'other_team_key', { identity: 'lead-a' });
      await expectDenied(await call('POST', '/v1/keys', { token: TEAM_ADMIN, body: { user: 'x', team: 'team-b' } }), 'other_team', { identity: 'lead-a' });
      expect((await call('POST', '/v1/keys', { token: TEAM_ADMIN, body: { user: 'x' } })).body.team).toBe('team-a');
      await expectDenied(await call('PUT', '/v1/security/config', { token: TEAM_ADMIN, body: { data_isolation_enabled: true } }), 'needs_unscoped_admin', { identity: 'lead-a' });
      expect((await call('GET', '/v1/security/config', { token: ADMIN })).body.data_isolation_enabled).toBe(false);
    } finally {
      await setIsolation(true);
    }
  });
});

test('no secret or token reached the logs', () => {
  const out = gw.output();
  for (const secret of [ADMIN, A1, A2, B1, TEAM_ADMIN, JWT_SECRET, PROVIDER_SECRET]) expect(out).not.toContain(secret);
  expect(out).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
});
