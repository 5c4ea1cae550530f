import { Client } from 'pg';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';

/**
 * Two gateways sharing one PostgreSQL database, as replicas do: a settings change made through
 * one applies on the other within about a second (it polls the stored version), and the audit
 * log is one log.
 */

const pgUrl = process.env.TEST_DATABASE_URL;
const ADMIN = 'sk-admin-replicas-0123456789';
const A1 = 'sk-replica-team-a-0123456789';
const B1 = 'sk-replica-team-b-0123456789';

if (!pgUrl && process.env.CI === 'true') {
  test('the replicas test needs TEST_DATABASE_URL', () => {
    throw new Error('TEST_DATABASE_URL is not set: CI must run the PostgreSQL suites (see .ci/run)');
  });
}

(pgUrl ? describe : describe.skip)('two replicas on one PostgreSQL', () => {
  const dbName = `gw_security_${process.pid}_${Date.now()}`;
  let adminClient: Client;
  let one: RunningGateway;
  let two: RunningGateway;

  beforeAll(async () => {
    adminClient = new Client({ connectionString: pgUrl });
    await adminClient.connect();
    await adminClient.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(pgUrl!);
    url.pathname = `/${dbName}`;
    const config = {
      keys: { admin: [{ key: ADMIN, id: 'root' }], entries: { [A1]: { user: 'a1', team: 'team-a' }, [B1]: { user: 'b1', team: 'team-b' } } },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
    };
    // One after the other: the first stores its configured settings, the second takes them.
    one = await startGateway({ env: { DATABASE_URL: url.toString() }, config });
    two = await startGateway({ env: { DATABASE_URL: url.toString() }, config: { ...config, security: { data_isolation_enabled: true } } });
  }, 90_000);

  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await adminClient?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await adminClient?.end();
  });

  const call = async (gw: RunningGateway, method: string, p: string, token: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const usageScope = async (gw: RunningGateway) => (await call(gw, 'GET', '/v1/usage?group_by=user', A1)).body.scope as string;

  test('the stored settings win over a later replica configuration', async () => {
    expect((await call(two, 'GET', '/v1/security/config', ADMIN)).body.data_isolation_enabled).toBe(false);
    expect(await usageScope(two)).toBe('key');
  });

  test('a PUT on one replica applies on the other within about a second, both ways', async () => {
    for (const [from, to, value] of [[one, two, true], [two, one, false], [one, two, true]] as const) {
      const started = Date.now();
      const res = await call(from, 'PUT', '/v1/security/config', ADMIN, { data_isolation_enabled: value });
      expect(res.status).toBe(200);
      // At once where it was made ...
      expect(await usageScope(from)).toBe(value ? 'team' : 'key');
      // ... and within ~1 s (the poll interval) on the other replica.
      await waitFor(async () => (await usageScope(to)) === (value ? 'team' : 'key'), 2000, 25);
      expect(Date.now() - started).toBeLessThan(2000);
      expect((await call(to, 'GET', '/v1/security/config', ADMIN)).body.data_isolation_enabled).toBe(value);
    }
  });

  test('with isolation on, a team A key reads no team B usage on either replica', async () => {
    for (const [gw, key] of [[one, A1], [two, B1], [two, A1]] as const) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    await waitFor(async () => (await call(one, 'GET', '/v1/usage', ADMIN)).body.data[0].requests === 3, 5000);
    for (const gw of [one, two]) {
      const res = await call(gw, 'GET', '/v1/usage?group_by=team&team=team-b', A1);
      expect(res.body).toMatchObject({ scope: 'team', data: [{ group: 'team-a', requests: 2 }] });
      expect(res.body.data).toHaveLength(1);
    }
  });

  test('one audit log: a change made through one replica is read through the other', async () => {
    const res = await fetch(`${one.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-request-id': `replica-${dbName}` },
      body: JSON.stringify({ user: 'shared' }),
    });
    expect(res.status).toBe(201);
    const found = await waitFor(async () => {
      const r = await call(two, 'GET', `/v1/audit?request_id=replica-${dbName}`, ADMIN);
      return r.body.data.length ? r.body.data : undefined;
    }, 3000);
    expect(found).toEqual([expect.objectContaining({ action: 'key.created', outcome: 'success', actor: { key_id: 'root', identity: 'root', team: null } })]);
  });
});
