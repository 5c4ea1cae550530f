import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { auditScope, usageScope } from '../../src/admin/isolation';
import type { AdminCaller } from '../../src/admin/auth';
import { GatewayMetrics } from '../../src/observability/metrics';
import type { SecuritySettings } from '../../src/domain';
import { AuditService } from '../../src/security/audit';
import { SettingsService, settingsShapeProblem } from '../../src/security/settings';
import { SqliteStore } from '../../src/store/sqlite';
import { StoreConflictError, type AuditRecord, type SettingsStore } from '../../src/store/types';

const log = pino({ level: 'silent' });

const CONFIGURED: SecuritySettings = {
  content_filtering_enabled: true,
  audit_logging_enabled: true,
  data_isolation_enabled: false,
  content_filters: [],
};

describe('settings shape', () => {
  test.each([
    ['a valid object', CONFIGURED, undefined],
    ['not an object', [], 'settings'],
    ['an unknown setting', { ...CONFIGURED, audit_logging: true }, 'audit_logging'],
    ['a string for a boolean', { ...CONFIGURED, data_isolation_enabled: 'yes' }, 'data_isolation_enabled'],
    ['null for a boolean', { ...CONFIGURED, audit_logging_enabled: null }, 'audit_logging_enabled'],
    ['an object for the rule sets', { ...CONFIGURED, content_filters: {} }, 'content_filters'],
    ['a missing setting', { audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] }, 'content_filtering_enabled'],
  ])('%s', (_name, value, param) => {
    expect(settingsShapeProblem(value)?.param).toBe(param);
  });

  test('plugin validators run after the shape check; a throwing validator is a problem, not a crash', () => {
    const s = new SettingsService(CONFIGURED);
    s.addValidator((v) => (v.content_filters.length > 1 ? { param: 'content_filters[1]', message: 'one rule set at most' } : undefined));
    expect(s.validate({ ...CONFIGURED, content_filters: [{}, {}] })).toEqual({ param: 'content_filters[1]', message: 'one rule set at most' });
    s.addValidator(() => {
      throw new Error('boom');
    });
    expect(s.validate(CONFIGURED)).toMatchObject({ param: 'settings' });
  });
});

describe('SettingsService shared through a store', () => {
  let dir: string;
  const stores: SqliteStore[] = [];
  const services: SettingsService[] = [];

  async function replica(initial: SecuritySettings = CONFIGURED, pollMs = 30): Promise<{ settings: SettingsService; store: SqliteStore }> {
    const store = new SqliteStore(path.join(dir, 'gateway.db'));
    await store.migrate();
    stores.push(store);
    const settings = new SettingsService(initial);
    services.push(settings);
    await settings.attach(store.settings, log, pollMs);
    return { settings, store };
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-settings-'));
  });
  afterEach(async () => {
    for (const s of services.splice(0)) s.stop();
    for (const s of stores.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the first replica stores its configured settings; later ones take the stored ones over their own', async () => {
    const a = await replica();
    expect(await a.store.settings.get()).toEqual({ value: CONFIGURED, version: 1 });
    expect(a.settings.version).toBe(1);
    const b = await replica({ ...CONFIGURED, audit_logging_enabled: false });
    expect(b.settings.current()).toEqual(CONFIGURED);
    expect(b.settings.version).toBe(1);
  });

  test('an update applies at once here, and on the other replica by its next poll', async () => {
    const a = await replica();
    const b = await replica();
    const r = await a.settings.update((cur) => ({ ...cur, data_isolation_enabled: true }));
    expect(r).toMatchObject({ ok: true, version: 2, previous: CONFIGURED });
    expect(a.settings.current().data_isolation_enabled).toBe(true);
    const seen: SecuritySettings[] = [];
    b.settings.onChange((s) => seen.push(s));
    const deadline = Date.now() + 2000;
    while (!b.settings.current().data_isolation_enabled && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect(b.settings.current().data_isolation_enabled).toBe(true);
    expect(b.settings.version).toBe(2);
    expect(seen).toHaveLength(1);
  });

  test('concurrent partial updates on two replicas both survive (optimistic versioning retries)', async () => {
    const a = await replica(CONFIGURED, 60_000);
    const b = await replica(CONFIGURED, 60_000);
    // b has not seen a's change when it writes: its first put conflicts, and it starts again from a's.
    await a.settings.update((cur) => ({ ...cur, data_isolation_enabled: true }));
    const r = await b.settings.update((cur) => ({ ...cur, audit_logging_enabled: false }));
    expect(r).toMatchObject({ ok: true, version: 3 });
    expect(b.settings.current()).toEqual({ ...CONFIGURED, data_isolation_enabled: true, audit_logging_enabled: false });
    expect((await b.store.settings.get())?.value).toEqual(b.settings.current());
  });

  test('an invalid update is refused, stores nothing and changes nothing', async () => {
    const a = await replica();
    const r = await a.settings.update((cur) => ({ ...cur, audit_logging_enabled: 'off' }));
    expect(r).toEqual({ ok: false, problem: { param: 'audit_logging_enabled', message: 'must be a boolean' } });
    expect(a.settings.current()).toEqual(CONFIGURED);
    expect(await a.store.settings.get()).toEqual({ value: CONFIGURED, version: 1 });
  });

  test('stored settings this replica rejects are not applied; settings it lacks come from its configuration', async () => {
    const a = await replica();
    const b = await replica();
    b.settings.addValidator((s) => (s.content_filters.length ? { param: 'content_filters[0]', message: 'unknown rule' } : undefined));
    await a.settings.update((cur) => ({ ...cur, content_filters: [{ name: 'x' }], data_isolation_enabled: true }));
    await b.settings.refresh();
    expect(b.settings.current()).toEqual(CONFIGURED);
    // A newer gateway stored a setting this one does not know, and lacks one this one has.
    const { content_filtering_enabled: _dropped, ...older } = CONFIGURED;
    await a.store.settings.put({ ...older, audit_logging_enabled: false, future_setting: 1 } as unknown as SecuritySettings);
    expect(await b.settings.refresh()).toBe(true);
    expect(b.settings.current()).toEqual({ ...CONFIGURED, audit_logging_enabled: false });
  });

  test('a store that fails while polling keeps the settings in force', async () => {
    let fail = false;
    const inner = new Map<string, { value: SecuritySettings; version: number }>();
    const store: SettingsStore = {
      async get() {
        if (fail) throw new Error('database down');
        return inner.get('s');
      },
      async put(value, expected) {
        const cur = inner.get('s');
        if (expected !== undefined && (cur?.version ?? 0) !== expected) throw new StoreConflictError('stale');
        inner.set('s', { value, version: (cur?.version ?? 0) + 1 });
        return (cur?.version ?? 0) + 1;
      },
    };
    const s = new SettingsService(CONFIGURED);
    services.push(s);
    await s.attach(store, log, 60_000);
    fail = true;
    expect(await s.refresh()).toBe(false);
    expect(s.current()).toEqual(CONFIGURED);
    await expect(s.update((cur) => ({ ...cur, data_isolation_enabled: true }))).resolves.toMatchObject({ ok: true });
    fail = false;
    expect(await s.refresh()).toBe(false);
    expect(s.current().data_isolation_enabled).toBe(true);
  });
});

describe('AuditService', () => {
  function service(settings: SecuritySettings) {
    const written: AuditRecord[] = [];
    const store = {
      async append(records: AuditRecord[]) {
        written.push(...records);
        return records.length;
      },
      async query() {
        return written;
      },
    };
    const current = { value: settings };
    const audit = new AuditService(store, { current: () => current.value }, new GatewayMetrics({ defaultMetrics: false }).api, log, { flushIntervalMs: 5 });
    return { audit, written, current };
  }

  test('records are written off the request path with an id, time and actor', async () => {
    const { audit, written } = service(CONFIGURED);
    const before = Date.now();
    audit.record({ action: 'key.created', outcome: 'success', target: 'key_1', actor: { keyId: 'root', identity: 'ops', team: 'red' }, requestId: 'req-1', details: { fields: ['team'] } });
    expect(written).toHaveLength(0);
    await audit.flush();
    expect(written).toEqual([
      {
        id: expect.stringMatching(/^aud_[0-9a-f]{32}$/), time: expect.any(Number), actorKeyId: 'root', actorIdentity: 'ops', actorTeam: 'red',
        action: 'key.created', target: 'key_1', outcome: 'success', requestId: 'req-1', details: { fields: ['team'] },
      },
    ]);
    expect(written[0]!.time).toBeGreaterThanOrEqual(before);
    expect(await audit.close()).toBe(0);
  });

  test('audit_logging_enabled off drops records at once; recordAlways keeps them', async () => {
    const { audit, written, current } = service({ ...CONFIGURED, audit_logging_enabled: false });
    audit.record({ action: 'key.created', outcome: 'success' });
    audit.recordAlways({ action: 'security_config.changed', outcome: 'success' });
    current.value = CONFIGURED;
    audit.record({ action: 'key.revoked', outcome: 'success' });
    await audit.close();
    expect(written.map((r) => r.action)).toEqual(['security_config.changed', 'key.revoked']);
    expect(written.map((r) => r.actorKeyId)).toEqual([null, null]);
  });

  test('oversized details are replaced by their size', async () => {
    const { audit, written } = service(CONFIGURED);
    audit.record({ action: 'x', outcome: 'failure', details: { big: 'y'.repeat(10_000) } });
    await audit.close();
    expect(written[0]!.details).toEqual({ truncated: true, size: expect.any(Number) });
  });
});

describe('data isolation scopes', () => {
  const caller = (over: Partial<AdminCaller>): AdminCaller => ({
    kind: 'api_key', keyId: 'k1', identity: 'u', team: null, roles: [], isAdmin: false, requestId: 'r', ...over,
  });
  test.each([
    ['admin, isolation off', caller({ isAdmin: true, team: 'red' }), false, { kind: 'all' }, { kind: 'all' }],
    ['admin with a team, isolation on', caller({ isAdmin: true, team: 'red' }), true, { kind: 'team', team: 'red' }, { kind: 'team', team: 'red' }],
    ['admin without a team, isolation on', caller({ isAdmin: true }), true, { kind: 'all' }, { kind: 'all' }],
    ['key holder, isolation off: its key', caller({ team: 'red' }), false, { kind: 'key', keyId: 'k1' }, { kind: 'none' }],
    ['key holder, isolation on: its team', caller({ team: 'red' }), true, { kind: 'team', team: 'red' }, { kind: 'team', team: 'red' }],
    ['key holder without a team, isolation on: its key', caller({}), true, { kind: 'key', keyId: 'k1' }, { kind: 'none' }],
    ['JWT without admin, with a team', caller({ kind: 'jwt', keyId: null, team: 'blue' }), false, { kind: 'team', team: 'blue' }, { kind: 'none' }],
    ['JWT without admin or team', caller({ kind: 'jwt', keyId: null }), true, { kind: 'none' }, { kind: 'none' }],
  ])('%s', (_name, c, isolation, usage, audit) => {
    expect(usageScope(c, isolation)).toEqual(usage);
    expect(auditScope(c, isolation)).toEqual(audit);
  });
});
