import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { adminAuthenticator } from '../../src/admin/auth';
import { registerConsoleRoutes, sessionCookie } from '../../src/admin/console/routes';
import { ConsoleSessions, cookieValue, sessionOf, SESSION_IDLE_MS, SESSION_LIFETIME_MS } from '../../src/admin/console/sessions';
import { JwtVerifier } from '../../src/admin/jwt';
import { registerKeyRoutes } from '../../src/admin/keys-api';
import { AdminRouter } from '../../src/admin/router';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { GatewayMetrics } from '../../src/observability/metrics';
import { AuditService } from '../../src/security/audit';
import { SettingsService } from '../../src/security/settings';
import { SqliteStore } from '../../src/store/sqlite';
import { hs256Jwt } from '../helpers/jwt';
import { sessionLimits } from '../../src/admin/console/config';
import { ConfigError, parseConfig } from '../../src/config/load';

/** Console sessions: ids, lifetimes, the cookie, and the admin authenticator honouring them. */

const ADMIN = 'sk-console-unit-admin-0123456789';
const USER = 'sk-console-unit-user-0123456789';
const JWT_SECRET = 'console-unit-jwt-secret-0123456789';

describe('ConsoleSessions', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;

  test('ids are random, 256-bit, base64url; only their hash is kept', () => {
    const sessions = new ConsoleSessions(clock);
    const a = sessions.open('credential-a');
    const b = sessions.open('credential-a');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(JSON.stringify([...(sessions as any).byHash.entries()])).not.toContain(a.id);
    expect(sessions.find(a.id)?.credential).toBe('credential-a');
    expect(sessions.find('x'.repeat(43))).toBeUndefined();
    expect(sessions.find('not a session id')).toBeUndefined();
  });

  test('a session ends after its lifetime, after an idle hour, on close', () => {
    const sessions = new ConsoleSessions(clock);
    const s = sessions.open('c');
    expect(s.expiresAt).toBe(now + SESSION_LIFETIME_MS);
    // Used every 50 minutes: alive until the absolute end.
    for (let t = 0; t + 50 * 60_000 < SESSION_LIFETIME_MS; t += 50 * 60_000) {
      now += 50 * 60_000;
      expect(sessions.find(s.id)).toBeDefined();
    }
    now = s.expiresAt;
    expect(sessions.find(s.id)).toBeUndefined();

    const idle = sessions.open('c');
    now += SESSION_IDLE_MS;
    expect(sessions.find(idle.id)).toBeUndefined();

    const closed = sessions.open('c');
    expect(sessions.close(closed.id)).toBe(true);
    expect(sessions.find(closed.id)).toBeUndefined();
    expect(sessions.close(closed.id)).toBe(false);
  });

  test("a JWT's session ends at its exp when that is sooner", async () => {
    const sessions = new ConsoleSessions(clock);
    const exp = Math.floor(now / 1000) + 600;
    const s = sessions.open(await hs256Jwt({ sub: 'x', exp }, JWT_SECRET));
    expect(s.expiresAt).toBe(exp * 1000);
    const late = sessions.open(await hs256Jwt({ sub: 'x', exp: exp + 86_400 }, JWT_SECRET));
    expect(late.expiresAt).toBe(now + SESSION_LIFETIME_MS);
  });

  test('a request presents a session only with the console header; a stale cookie is `unknown`', () => {
    const sessions = new ConsoleSessions(clock);
    const { id } = sessions.open('c');
    const cookie = `other=1; gw_console=${id}; theme=dark`;
    expect(sessionOf(sessions, { cookie })).toBeUndefined();
    expect(sessionOf(sessions, { cookie, 'x-gateway-console': '0' })).toBeUndefined();
    expect((sessionOf(sessions, { cookie, 'x-gateway-console': '1' }) as any).credential).toBe('c');
    expect(sessionOf(sessions, { cookie: 'gw_console=AAAA', 'x-gateway-console': '1' })).toBe('unknown');
    expect(sessionOf(sessions, { 'x-gateway-console': '1' })).toBeUndefined();
  });

  test('cookie parsing and the Set-Cookie value', () => {
    expect(cookieValue(['a=1', 'gw_console=abc'], 'gw_console')).toBe('abc');
    expect(cookieValue('xgw_console=1; gw_console = v ', 'gw_console')).toBe('v');
    expect(cookieValue(undefined, 'gw_console')).toBeUndefined();
    expect(cookieValue('__proto__=1', '__proto__')).toBe('1');
    expect(sessionCookie('v', 60, false)).toBe('gw_console=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict');
    expect(sessionCookie('v', 60, true)).toMatch(/; Secure$/);
  });
});

describe('the admin API with console sessions', () => {
  let store: SqliteStore;
  let keys: KeyService;
  let audit: AuditService;
  let settings: SettingsService;
  let router: AdminRouter;
  const log = pino({ level: 'silent' });

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    keys = new KeyService(store.keys, new SecretBox(randomBytes(32)));
    await keys.importKey({ secret: ADMIN }, { name: 'root-admin', roles: ['admin'] }, 'config', 'root');
    await keys.importKey({ secret: USER }, { user: 'u' }, 'config', 'user');
    settings = new SettingsService({ content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] });
    await settings.attach(store.settings, log, 60_000);
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    audit = new AuditService(store.audit, settings, metrics.api, log, { flushIntervalMs: 5 });
    const jwt = await JwtVerifier.create({ hs256_secret: JWT_SECRET, roles_claim: 'roles', team_claim: 'team', leeway_seconds: 0 }, '/');
    const sessions = new ConsoleSessions();
    const authenticate = adminAuthenticator(keys, metrics, { jwt, audit, sessions });
    router = new AdminRouter();
    registerKeyRoutes(router, keys, metrics, authenticate, audit, settings);
    registerConsoleRoutes(router, sessions, authenticate, audit);
  });

  afterEach(async () => {
    settings.stop();
    await audit.close();
    await store.close();
  });

  const call = async (method: string, path: string, headers: Record<string, string>) => {
    const res = await router.dispatch({ method, path, query: new URLSearchParams(), headers, body: undefined });
    return { ...res, body: res.body as any };
  };
  const signIn = async (credential: string) => {
    const res = await call('POST', '/console/session', { authorization: `Bearer ${credential}` });
    return { res, headers: { cookie: res.headers!['set-cookie'].split(';')[0], 'x-gateway-console': '1' } };
  };

  test('the session stands for its admin key until the key is revoked', async () => {
    const { res, headers } = await signIn(ADMIN);
    expect(res.status).toBe(201);
    expect(JSON.stringify(res)).not.toContain(ADMIN);
    expect((await call('GET', '/v1/keys', headers)).status).toBe(200);
    await keys.revoke('root');
    const refused = await call('GET', '/v1/keys', headers);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'revoked_api_key']);
    // Ended: even a key restored later would not bring it back.
    expect((await call('GET', '/v1/keys', headers)).body.error.code).toBe('invalid_session');
  });

  test('a cookie session never opens another one (no endless renewal)', async () => {
    const { headers } = await signIn(ADMIN);
    const again = await call('POST', '/console/session', headers);
    expect([again.status, again.body.error.code]).toEqual([401, 'missing_api_key']);
  });

  test('a bearer credential wins over the cookie; non-admins and bad credentials open nothing, audited', async () => {
    const { headers } = await signIn(ADMIN);
    expect((await call('GET', '/v1/keys', { ...headers, authorization: `Bearer ${USER}` })).status).toBe(403);
    expect((await call('POST', '/console/session', { authorization: `Bearer ${USER}` })).status).toBe(403);
    expect((await call('POST', '/console/session', { authorization: 'Bearer sk-nope-0123456789' })).body.error.code).toBe('invalid_api_key');
    const expired = await hs256Jwt({ sub: 'x', roles: ['admin'], exp: Math.floor(Date.now() / 1000) - 10 }, JWT_SECRET);
    expect((await call('POST', '/console/session', { authorization: `Bearer ${expired}` })).body.error.code).toBe('expired_token');
    await audit.flush();
    const failed = await store.audit.query({ action: 'admin.login_failed', limit: 10 });
    expect(failed.map((r) => r.details.reason).sort()).toEqual(['expired', 'invalid_api_key', 'missing_admin_role', 'missing_admin_role'].sort());
    expect(JSON.stringify(failed)).not.toMatch(/sk-nope|eyJ/);
  });

  test('sign-out ends the session and clears the cookie', async () => {
    const { headers } = await signIn(ADMIN);
    const out = await call('DELETE', '/console/session', headers);
    expect(out.body.signed_out).toBe(true);
    expect(out.headers!['set-cookie']).toMatch(/^gw_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    expect((await call('GET', '/v1/keys', headers)).body.error.code).toBe('invalid_session');
    const again = await call('DELETE', '/console/session', headers);
    expect([again.status, again.body.error.code, again.headers!['set-cookie']]).toEqual([401, 'invalid_session', out.headers!['set-cookie']]);
  });
});

describe('admin_auth.console in gateway.yaml: the session lifetimes', () => {
  test('defaults: 8 hours absolute, 1 hour idle', () => {
    const c = parseConfig({}, '/tmp').admin_auth.console;
    expect(c).toEqual({ session_ttl_seconds: 8 * 3600, idle_timeout_seconds: 3600 });
    expect(sessionLimits(c)).toEqual({ lifetimeMs: SESSION_LIFETIME_MS, idleMs: SESSION_IDLE_MS });
  });

  test('configured lifetimes end sessions at those times', () => {
    let now = 1_800_000_000_000;
    const c = parseConfig({ admin_auth: { console: { session_ttl_seconds: 1800, idle_timeout_seconds: 300 } } }, '/tmp').admin_auth.console;
    const sessions = new ConsoleSessions(() => now, sessionLimits(c));
    const s = sessions.open('c');
    expect(s.expiresAt).toBe(now + 1800_000);
    // Used every 4 minutes: alive until 30 minutes after sign-in, then over.
    const end = s.expiresAt;
    while (now + 240_000 < end) {
      now += 240_000;
      expect(sessions.find(s.id)).toBeDefined();
    }
    now = end;
    expect(sessions.find(s.id)).toBeUndefined();
    // Five minutes unused end one.
    const idle = sessions.open('c');
    now += 299_999;
    expect(sessions.find(idle.id)).toBeDefined();
    now += 300_000;
    expect(sessions.find(idle.id)).toBeUndefined();
  });

  test.each([
    [{ session_ttl_seconds: 59 }, 'session_ttl_seconds'],
    [{ session_ttl_seconds: 8 * 86_400 }, 'session_ttl_seconds'],
    [{ session_ttl_seconds: '8h' }, 'session_ttl_seconds'],
    [{ idle_timeout_seconds: 0 }, 'idle_timeout_seconds'],
    [{ idle_timeout_seconds: 1.5 }, 'idle_timeout_seconds'],
    [{ idle_timeout_seconds: 86_401 }, 'idle_timeout_seconds'],
    [{ idle_minutes: 5 }, 'idle_minutes'],
  ])('%j is refused, naming the setting', (console, name) => {
    let problems: string[] = [];
    try {
      parseConfig({ admin_auth: { console } }, '/tmp');
    } catch (err) {
      problems = (err as ConfigError).problems ?? [];
    }
    expect(problems.join('\n')).toContain(name);
    expect(problems.join('\n')).toContain('admin_auth.console');
  });

  test('an idle timeout longer than the lifetime is refused, naming both; equal or defaulted is not', () => {
    const problemsOf = (console: object): string[] => {
      try {
        parseConfig({ admin_auth: { console } }, '/tmp');
        return [];
      } catch (err) {
        return (err as ConfigError).problems ?? [String(err)];
      }
    };
    const [problem, ...rest] = problemsOf({ session_ttl_seconds: 1800, idle_timeout_seconds: 3600 });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/admin_auth\.console\.idle_timeout_seconds \(3600\).*admin_auth\.console\.session_ttl_seconds \(1800\)/);
    // Against the default lifetime (8 h) too: 9 h idle is within its own range (24 h) but not the lifetime's.
    expect(problemsOf({ idle_timeout_seconds: 9 * 3600 }).join('\n')).toContain('session_ttl_seconds (28800)');
    expect(problemsOf({ session_ttl_seconds: 1800, idle_timeout_seconds: 1800 })).toEqual([]);
    // The default idle hour under a shorter lifetime just never applies: not the operator's mistake.
    expect(problemsOf({ session_ttl_seconds: 1800 })).toEqual([]);
  });
});
