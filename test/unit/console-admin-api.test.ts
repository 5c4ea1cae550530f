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

  test('grouped reports page with limit and offset: has_more and next_offset from one group more, not a count', async () => {
    await store.usage.insertBatch(Array.from({ length: 7 }, (_, i) => usage({ id: `u${i}`, time: T0 + i, keyId: `key-${i}`, team: 'red', status: 200 })));
    const whole = await get(`/v1/usage?group_by=key&start=${T0}`);
    expect(whole.body).not.toHaveProperty('has_more');
    expect(whole.body).not.toHaveProperty('next_offset');
    const query = jest.spyOn(store.usage, 'query');
    const pages: any[] = [];
    let next: number | null = 0;
    while (next !== null) {
      const { status, body } = await get(`/v1/usage?group_by=key&start=${T0}&limit=3&offset=${next}`);
      expect(status).toBe(200);
      pages.push(body);
      next = body.next_offset;
    }
    expect(pages.map((p) => [p.data.length, p.has_more, p.next_offset])).toEqual([[3, true, 3], [3, true, 6], [1, false, null]]);
    expect(pages.flatMap((p) => p.data)).toEqual(whole.body.data);
    expect(query.mock.calls.map(([q]) => [q.limit, q.offset])).toEqual([[4, 0], [4, 3], [4, 6]]);
    // Exactly a page's worth left: no next page.
    expect((await get(`/v1/usage?group_by=key&limit=7`)).body).toMatchObject({ has_more: false, next_offset: null });
    // A team admin's pages are its team's groups.
    expect((await get(`/v1/usage?group_by=team&limit=5`, TEAM_ADMIN)).body.data.map((r: any) => r.group)).toEqual(['red']);
  });

  test.each([
    ['group_by=key&limit=0', 'limit'],
    ['group_by=key&limit=1001', 'limit'],
    ['group_by=key&limit=-1', 'limit'],
    ['group_by=key&limit=2.5', 'limit'],
    ['group_by=key&limit=ten', 'limit'],
    ['group_by=key&limit=', 'limit'],
    ['group_by=key&limit=5&offset=-1', 'offset'],
    ['group_by=key&limit=5&offset=1e3', 'offset'],
    ['group_by=key&limit=5&offset=99999999999', 'offset'],
    ['group_by=key&offset=5', 'offset'],
    ['limit=5', 'limit'],
    ['group_by=key&limit=5&format=csv', 'limit'],
  ])('%s is refused naming %s', async (q, param) => {
    const res = await get(`/v1/usage?${q}`);
    expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', param]);
  });

  test('group_by=hour covers at most 31 days', async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    expect((await get(`/v1/usage?group_by=hour&start=${at(T0)}&end=${at(T0 + 31 * 24 * HOUR)}`)).status).toBe(200);
    const longer = await get(`/v1/usage?group_by=hour&start=${at(T0)}&end=${at(T0 + 31 * 24 * HOUR + 1)}`);
    expect([longer.status, longer.body.error.code, longer.body.error.param]).toEqual([400, 'invalid_parameter', 'group_by']);
    expect(longer.body.error.message).toContain('31 days');
    expect((await get(`/v1/usage?group_by=day&start=${at(T0)}&end=${at(T0 + 365 * 24 * HOUR)}`)).status).toBe(200);
    // An open range is held to 744 hours that have records (read as 745 at most, never all).
    await store.usage.insertBatch(Array.from({ length: 745 }, (_, i) => usage({ id: `h${i}`, time: T0 - i * HOUR, status: 200 })));
    const open = await get('/v1/usage?group_by=hour');
    expect([open.status, open.body.error?.param]).toEqual([400, 'group_by']);
    await store.usage.insertBatch([]);
    const within = await get(`/v1/usage?group_by=hour&start=${at(T0 - 743 * HOUR)}`);
    expect([within.status, within.body.data.length]).toEqual([200, 744]);
    const paged = await get(`/v1/usage?group_by=hour&start=${at(T0 - 743 * HOUR)}&limit=700&offset=40`);
    expect([paged.body.data.length, paged.body.has_more, paged.body.next_offset]).toEqual([700, true, 740]);
  });

  test.each(['Hour', 'hours', 'minute', '__proto__', 'hour;'])('group_by=%s is refused, naming hour among the choices', async (groupBy) => {
    const res = await get(`/v1/usage?group_by=${encodeURIComponent(groupBy)}`);
    expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', 'group_by']);
    expect(res.body.error.message).toContain('day, hour');
  });
});
