import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { adminAuthenticator } from '../../src/admin/auth';
import { registerKeyRoutes } from '../../src/admin/keys-api';
import { AdminRouter } from '../../src/admin/router';
import { registerUsageRoutes } from '../../src/admin/usage-api';
import { SecretBox } from '../../src/keys/secrets';
import { KeyService } from '../../src/keys/service';
import { GatewayMetrics } from '../../src/observability/metrics';
import { AuditService } from '../../src/security/audit';
import { SettingsService } from '../../src/security/settings';
import { SqliteStore } from '../../src/store/sqlite';
import { usage } from '../store/store-suite';

/**
 * The admin API the console pages with: `GET /v1/keys?limit&after` read a page at a time from the
 * store (never every key), a team admin's pages hold to its team, and `GET /v1/usage?group_by=hour`.
 */

const ADMIN = 'sk-console-api-admin-0123456789';
const TEAM_ADMIN = 'sk-console-api-team-admin-0123456789';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 9);

describe('keys and usage API, as the console pages them', () => {
  const log = pino({ level: 'silent' });
  let store: SqliteStore;
  let keys: KeyService;
  let settings: SettingsService;
  let audit: AuditService;
  let router: AdminRouter;

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.migrate();
    keys = new KeyService(store.keys, new SecretBox(randomBytes(32)));
    await keys.importKey({ secret: ADMIN }, { name: 'root', roles: ['admin'] }, 'config', 'root');
    await keys.importKey({ secret: TEAM_ADMIN }, { name: 'lead', roles: ['admin'], team: 'red' }, 'config', 'lead');
    settings = new SettingsService({ content_filtering_enabled: true, audit_logging_enabled: true, data_isolation_enabled: true, content_filters: [] });
    await settings.attach(store.settings, log, 60_000);
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    audit = new AuditService(store.audit, settings, metrics.api, log, { flushIntervalMs: 5 });
    const authenticate = adminAuthenticator(keys, metrics, { audit });
    router = new AdminRouter();
    registerKeyRoutes(router, keys, metrics, authenticate, audit, settings);
    registerUsageRoutes(router, store.usage, authenticate, settings);
  });

  afterEach(async () => {
    settings.stop();
    await audit.close();
    await store.close();
  });

  const get = async (pathAndQuery: string, token = ADMIN) => {
    const [path, q = ''] = pathAndQuery.split('?');
    const res = await router.dispatch({ method: 'GET', path, query: new URLSearchParams(q), headers: { authorization: `Bearer ${token}` }, body: undefined });
    return { status: res.status, body: res.body as any };
  };
  const ids = (body: any) => body.data.map((k: any) => k.id);

  test('a page of keys is read with LIMIT and a keyset position, not by reading every key', async () => {
    for (let i = 0; i < 12; i++) await keys.create({ name: `k${i}`, team: i % 3 ? 'red' : 'blue' });
    const all = ids((await get('/v1/keys')).body);
    expect(all).toHaveLength(14);
    const list = jest.spyOn(store.keys, 'list');
    const pages: string[][] = [];
    let after = '';
    for (;;) {
      const { body } = await get(`/v1/keys?limit=5${after && `&after=${after}`}`);
      pages.push(ids(body));
      if (!body.has_more) break;
      after = body.last_id;
    }
    expect(pages.map((p) => p.length)).toEqual([5, 5, 4]);
    expect(pages.flat()).toEqual(all);
    // Each page asked the store for one key more than shown (is there a next page?), from a position.
    expect(list.mock.calls.map(([f]) => f?.limit)).toEqual([6, 6, 6]);
    expect(list.mock.calls[1][0]?.after?.id).toBe(pages[0][4]);
    expect((await store.keys.list({ limit: 6 })).length).toBe(6);
  });

  test("a team admin's pages hold its team's keys only; another team's key is no position", async () => {
    const blue = await keys.create({ name: 'blue-1', team: 'blue' });
    for (let i = 0; i < 4; i++) await keys.create({ name: `red-${i}`, team: 'red' });
    const first = await get('/v1/keys?limit=3', TEAM_ADMIN);
    const second = await get(`/v1/keys?limit=3&after=${first.body.last_id}`, TEAM_ADMIN);
    const shown = [...first.body.data, ...second.body.data];
    expect(new Set(shown.map((k: any) => k.team))).toEqual(new Set(['red']));
    expect(shown.map((k: any) => k.id)).toEqual(ids((await get('/v1/keys?team=red')).body));
    expect([first.body.has_more, second.body.has_more]).toEqual([true, false]);
    // A team filter of the caller's own cannot widen it either.
    expect(ids((await get('/v1/keys?limit=50&team=blue', TEAM_ADMIN)).body)).not.toContain(blue.key.id);
    for (const after of [blue.key.id, 'no-such-key', '__proto__']) {
      const res = await get(`/v1/keys?limit=3&after=${after}`, TEAM_ADMIN);
      expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', 'after']);
    }
    // An admin without a team may start after any key.
    expect((await get(`/v1/keys?limit=3&after=${blue.key.id}`)).status).toBe(200);
  });

  test('group_by=hour: UTC hours that have records, in order; the filters still apply', async () => {
    await store.usage.insertBatch([
      usage({ id: 'a', time: T0 + 5 * 60_000, team: 'red', totalTokens: 10, status: 200 }),
      usage({ id: 'b', time: T0 + HOUR - 1, team: 'blue', totalTokens: 20, status: 500 }),
      usage({ id: 'c', time: T0 + 3 * HOUR, team: 'red', totalTokens: 5, status: 200 }),
      usage({ id: 'd', time: T0 + 30 * HOUR, team: 'red', totalTokens: 1, status: 200 }),
    ]);
    const { status, body } = await get(`/v1/usage?group_by=hour&start=${new Date(T0).toISOString()}&end=${new Date(T0 + 24 * HOUR).toISOString()}`);
    expect(status).toBe(200);
    expect(body.group_by).toBe('hour');
    expect(body.data.map((r: any) => [r.group, r.requests, r.errors, r.total_tokens])).toEqual([
      ['2026-11-30T09:00:00Z', 2, 1, 30],
      ['2026-11-30T12:00:00Z', 1, 0, 5],
    ]);
    // A team admin's hours are its team's.
    const team = await get(`/v1/usage?group_by=hour&start=${T0}`, TEAM_ADMIN);
    expect(team.body.data.map((r: any) => [r.group, r.requests])).toEqual([
      ['2026-11-30T09:00:00Z', 1],
      ['2026-11-30T12:00:00Z', 1],
      ['2026-12-01T15:00:00Z', 1],
    ]);
    const csv = await router.dispatch({ method: 'GET', path: '/v1/usage', query: new URLSearchParams('group_by=hour&format=csv'), headers: { authorization: `Bearer ${ADMIN}` }, body: undefined });
    expect(String(csv.raw).split('\r\n')[1]).toMatch(/^2026-11-30T09:00:00Z,2,1,/);
  });

  test.each(['Hour', 'hours', 'minute', '__proto__', 'hour;'])('group_by=%s is refused, naming hour among the choices', async (groupBy) => {
    const res = await get(`/v1/usage?group_by=${encodeURIComponent(groupBy)}`);
    expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', 'group_by']);
    expect(res.body.error.message).toContain('day, hour');
  });
});
