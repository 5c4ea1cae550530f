import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * Virtual keys, key mapping, the LangChain endpoint and usage records, end to end through real
 * Envoy with a fake OpenAI upstream and the embedded SQLite store.
 */

const ADMIN = 'sk-admin-secret-0123456789';
const USER1 = 'vk_user1_openai';
const LANGCHAIN = 'langchain-user2-secret-key';
const REAL_USER1 = 'sk-real-provider-key-user1';
const REAL_USER2 = 'sk-real-provider-key-user2';
const DEFAULT_PROVIDER_KEY = 'sk-real-default-provider-key';
const ALL_SECRETS = [ADMIN, USER1, LANGCHAIN, REAL_USER1, REAL_USER2, DEFAULT_PROVIDER_KEY, 'vk_quota_key', 'vk_limited_models'];

let fake: FakeOpenAI;
let gw: RunningGateway;

const keysJson = {
  virtual_keys: {
    [USER1]: { provider: 'openai', api_key: REAL_USER1, user: 'user1', team: 'team-a' },
    [LANGCHAIN]: { provider: 'openai', api_key: 'env:USER2_PROVIDER_KEY', tier: 'langchain', user: 'user2', team: 'team-b' },
    vk_expired_key: { provider: 'openai', api_key: REAL_USER1, expires_at: '2020-01-01T00:00:00Z' },
    vk_limited_models: { allowed_models: ['gpt-4o-mini'], user: 'limited', team: 'team-a' },
    vk_other_provider: { allowed_providers: ['someone-else'] },
    vk_embed_only: { roles: ['embedding'] },
    vk_quota_key: { user: 'quota-user' },
  },
};

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-keys-'));
  fs.writeFileSync(path.join(dir, 'keys.json'), JSON.stringify(keysJson));
  gw = await startGateway({
    env: { USER2_PROVIDER_KEY: REAL_USER2, DEFAULT_PROVIDER_KEY, QUOTA_LIMIT: '' },
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key_env: 'DEFAULT_PROVIDER_KEY', models: ['gpt-*'] }],
      keys: { file: path.join(dir, 'keys.json'), admin: [{ key: ADMIN, id: 'root' }], entries: {} },
      pricing: { models: { 'gpt-4o-mini': { input: 1, output: 2 } }, tier_multipliers: { langchain: 2 } },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins().map((p) => (p.use === 'quota' ? { use: 'quota', options: { enabled: true, limit: 100 } } : p)),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

beforeEach(() => fake.reset());

const post = (p: string, key: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
const chatBody = (extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], ...extra });
const admin = (p: string, init: RequestInit = {}) =>
  fetch(`${gw.url}${p}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function usageOf(query: string, key = ADMIN): Promise<any> {
  const res = await fetch(`${gw.url}/v1/usage?${query}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Waits until the usage record of a request id has been written, then returns the key's totals. */
async function recordedTotals(keyQuery: string, expectRequests: number) {
  return waitFor(async () => {
    const r = await usageOf(keyQuery);
    return r.data[0]?.requests >= expectRequests ? r.data[0] : undefined;
  }, 5000);
}

describe('authentication failures', () => {
  test.each([
    ['no key', undefined, {}, 401, 'missing_api_key'],
    ['an unknown key', 'vk_does_not_exist', {}, 401, 'invalid_api_key'],
    ['an expired key', 'vk_expired_key', {}, 401, 'expired_api_key'],
    ['a model the key may not use', 'vk_limited_models', { model: 'gpt-4o' }, 403, 'model_not_allowed'],
    ['a provider the key may not use', 'vk_other_provider', {}, 403, 'provider_not_allowed'],
    ['a key without the completion role', 'vk_embed_only', {}, 403, 'insufficient_permissions'],
    ['a standard key on the LangChain endpoint', USER1, { path: '/v1/langchain/chat/completions' }, 403, 'invalid_key_tier'],
  ])('%s → %i %s', async (_name, key, opts: any, status, code) => {
    const { path: p = '/v1/chat/completions', ...extra } = opts;
    const res = await post(p, key, chatBody(extra));
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await res.json();
    expect(body.error).toMatchObject({ code });
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(fake.requests).toHaveLength(0);
  });

  test('X-API-Key and api-key headers authenticate too', async () => {
    expect((await post('/v1/chat/completions', undefined, chatBody(), { 'x-api-key': USER1 })).status).toBe(200);
    expect((await post('/v1/chat/completions', undefined, chatBody(), { 'api-key': USER1 })).status).toBe(200);
  });
});

test('the upstream sees only the provider key the virtual key maps to', async () => {
  expect((await post('/v1/chat/completions', USER1, chatBody())).status).toBe(200);
  expect((await post('/v1/langchain/chat/completions', LANGCHAIN, chatBody())).status).toBe(200);
  expect((await post('/v1/chat/completions', 'vk_quota_key', chatBody())).status).toBe(200);
  expect(fake.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${REAL_USER1}`, `Bearer ${REAL_USER2}`, `Bearer ${DEFAULT_PROVIDER_KEY}`]);
  for (const r of fake.requests) {
    expect(r.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toMatch(/vk_|langchain-user2/);
  }
});

test('a stream whose client did not ask for usage gets no usage chunk, yet its record has the exact counts', async () => {
  const res = await post('/v1/chat/completions', USER1, chatBody({ stream: true }), { 'x-request-id': 'stream-usage-1' });
  expect(res.status).toBe(200);
  const text = await res.text();
  const events = text.trim().split('\n\n').map((e) => e.slice(6));
  expect(events.at(-1)).toBe('[DONE]');
  for (const e of events.slice(0, -1)) expect(JSON.parse(e).choices.length).toBeGreaterThan(0);
  expect(text).not.toContain('"prompt_tokens"');
  // The gateway asked the provider for usage on the client's behalf.
  expect(fake.requests[0].json.stream_options).toEqual({ include_usage: true });

  const asked = await post('/v1/chat/completions', USER1, chatBody({ stream: true, stream_options: { include_usage: true } }));
  const withUsage = (await asked.text()).trim().split('\n\n').map((e) => e.slice(6));
  expect(JSON.parse(withUsage.at(-2)!).usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });

  const line = await waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.request_id === 'stream-usage-1'));
  expect(line).toMatchObject({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, streamed: true });

  // The stored record itself, read from the gateway's SQLite file.
  const record = await waitFor(() => {
    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
    try {
      return db.prepare('SELECT * FROM usage_records WHERE request_id = ?').get('stream-usage-1') as any;
    } finally {
      db.close();
    }
  });
  expect(record).toMatchObject({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, streamed: 1, status: 200, endpoint: 'standard', user_id: 'user1', team: 'team-a', provider: 'openai', model_served: 'gpt-4o-mini' });
  expect(record.key_id).toMatch(/^vk_[0-9a-f]{16}$/);
  expect(record.cost_usd).toBeCloseTo((9 * 1 + 3 * 2) / 1e6, 12);
  expect(record.ttft_ms).toBeGreaterThan(0);
});

test('a langchain key on the langchain path is recorded as langchain with the tier price', async () => {
  const before = await usageOf('group_by=endpoint');
  const langchainBefore = before.data.find((r: any) => r.group === 'langchain') ?? { requests: 0, cost_usd: 0 };
  const res = await post('/v1/langchain/chat/completions', LANGCHAIN, chatBody());
  expect(res.status).toBe(200);
  const after = await waitFor(async () => {
    const r = await usageOf('group_by=endpoint');
    const lc = r.data.find((x: any) => x.group === 'langchain');
    return lc && lc.requests === langchainBefore.requests + 1 ? lc : undefined;
  });
  // 9 prompt tokens at $1/M and 3 completion tokens at $2/M, times the langchain multiplier 2.
  expect(after.cost_usd - langchainBefore.cost_usd).toBeCloseTo(((9 * 1 + 3 * 2) / 1e6) * 2, 12);

  // The same key on the standard path is still tracked as langchain usage.
  expect((await post('/v1/chat/completions', LANGCHAIN, chatBody())).status).toBe(200);
  await waitFor(async () => (await usageOf('group_by=endpoint')).data.find((x: any) => x.group === 'langchain')?.requests === langchainBefore.requests + 2);
  const byTeam = await usageOf('group_by=team');
  expect(byTeam.data.find((r: any) => r.group === 'team-b').requests).toBeGreaterThanOrEqual(2);
});

describe('usage queries', () => {
  test('group by each dimension and filter by date range', async () => {
    await post('/v1/chat/completions', USER1, chatBody());
    await waitFor(async () => (await usageOf('group_by=user')).data.some((r: any) => r.group === 'user1'));
    const today = new Date().toISOString().slice(0, 10);
    for (const [groupBy, expected] of [
      ['key', 'vk_'],
      ['user', 'user1'],
      ['team', 'team-a'],
      ['model', 'gpt-4o-mini'],
      ['provider', 'openai'],
      ['endpoint', 'standard'],
      ['day', today],
    ]) {
      const r = await usageOf(`group_by=${groupBy}`);
      expect(r.group_by).toBe(groupBy);
      expect(r.data.some((row: any) => String(row.group).startsWith(expected))).toBe(true);
      for (const row of r.data) expect(Object.keys(row).sort()).toEqual(['cached_tokens', 'completion_tokens', 'cost_usd', 'errors', 'group', 'prompt_tokens', 'reasoning_tokens', 'requests', 'total_tokens']);
    }
    const future = await usageOf('start=2999-01-01');
    expect(future.data.every((r: any) => r.requests === 0)).toBe(true);
    const past = await usageOf('end=2000-01-01&group_by=day');
    expect(past.data).toEqual([]);
    const all = await usageOf(`start=${today}`);
    expect(all.data[0].requests).toBeGreaterThan(0);
  });

  test('a key holder sees only its own usage; bad parameters get 400 naming them', async () => {
    await post('/v1/chat/completions', 'vk_limited_models', chatBody());
    const mine = await waitFor(async () => {
      const r = await usageOf('group_by=user', 'vk_limited_models');
      return r.data.length ? r : undefined;
    });
    expect(mine.scope).toBe('key');
    expect(mine.data.map((r: any) => r.group)).toEqual(['limited']);
    // Asking for another key's usage changes nothing for a non-admin.
    const other = await usageOf('group_by=user&key_id=root', 'vk_limited_models');
    expect(other.data.map((r: any) => r.group)).toEqual(['limited']);

    for (const [q, param] of [['group_by=color', 'group_by'], ['start=yesterday', 'start'], ["end=1'; DROP TABLE usage_records;--", 'end']]) {
      const res = await fetch(`${gw.url}/v1/usage?${q}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
    expect((await fetch(`${gw.url}/v1/usage`)).status).toBe(401);
  });

  test('GET /v1/metrics/summary returns totals, requests by provider, average time and last update', async () => {
    const res = await admin('/v1/metrics/summary');
    expect(res.status).toBe(200);
    const s = await res.json();
    expect(s.total_requests).toBeGreaterThan(0);
    expect(s.requests_by_provider.openai).toBeGreaterThan(0);
    expect(typeof s.average_response_time_ms).toBe('number');
    expect(Date.parse(s.last_updated)).not.toBeNaN();
  });
});

describe('keys API', () => {
  test('create shows the secret once; list and get never do; update and revoke take effect at once', async () => {
    const created = await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ name: 'ci', user: 'u9', team: 'team-c', provider: 'openai', api_key: 'sk-real-via-api' }) });
    expect(created.status).toBe(201);
    const k = await created.json();
    expect(k.key).toMatch(/^sk-gw-[A-Za-z0-9]{32}$/);
    expect(k).toMatchObject({ name: 'ci', team: 'team-c', tier: 'standard', status: 'active', has_provider_key: true });
    expect(JSON.stringify(k)).not.toContain('sk-real-via-api');

    const list = await (await admin('/v1/keys')).text();
    expect(list).toContain(k.id);
    expect(list).not.toContain(k.key);
    for (const s of ALL_SECRETS) expect(list).not.toContain(s);
    const one = await (await admin(`/v1/keys/${k.id}`)).json();
    expect(one.key).toBeUndefined();
    expect(one.prefix.length).toBeLessThan(16);

    expect((await post('/v1/chat/completions', k.key, chatBody())).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-real-via-api');

    const patched = await admin(`/v1/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ allowed_models: ['gpt-3.5-turbo'] }) });
    expect((await patched.json()).allowed_models).toEqual(['gpt-3.5-turbo']);
    expect((await post('/v1/chat/completions', k.key, chatBody())).status).toBe(403);

    expect((await admin(`/v1/keys/${k.id}`, { method: 'DELETE' })).status).toBe(200);
    const revoked = await post('/v1/chat/completions', k.key, chatBody());
    expect(revoked.status).toBe(401);
    expect((await revoked.json()).error.code).toBe('revoked_api_key');

    const langchain = await (await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ tier: 'langchain' }) })).json();
    expect(langchain.key).toMatch(/^langchain-/);
  });

  test('the keys API needs the admin role and validates input', async () => {
    expect((await fetch(`${gw.url}/v1/keys`)).status).toBe(401);
    const asUser = await fetch(`${gw.url}/v1/keys`, { headers: { authorization: `Bearer ${USER1}` } });
    expect(asUser.status).toBe(403);
    expect((await asUser.json()).error.code).toBe('insufficient_permissions');
    const bad = await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ quota_limit: 'lots' }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('quota_limit');
    expect((await admin('/v1/keys/key_nope')).status).toBe(404);
  });
});

test('the 101st request in an hour gets a 429 with retry-after', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 100; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => post('/v1/chat/completions', 'vk_quota_key', chatBody())));
    statuses.push(...batch.map((r) => r.status));
  }
  // One request was spent by the key-mapping test above.
  expect(statuses.filter((s) => s === 200)).toHaveLength(99);
  expect(statuses.filter((s) => s === 429)).toHaveLength(1);
  const over = await post('/v1/chat/completions', 'vk_quota_key', chatBody());
  expect(over.status).toBe(429);
  expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(3500);
  expect(over.headers.get('x-ratelimit-remaining-requests')).toBe('0');
  expect((await over.json()).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
});

test('metrics expose langchain, auth, token and cost counters with bounded labels and no keys', async () => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  expect(text).toMatch(/langchain_requests_total\{model="gpt-4o-mini",status="200"\} \d+/);
  expect(text).toMatch(/langchain_request_duration_seconds_bucket\{le="[\d.]+",model="gpt-4o-mini"\}/);
  expect(text).toMatch(/auth_operations_total\{operation="authenticate",result="success"\} \d+/);
  expect(text).toMatch(/auth_operations_total\{operation="authenticate",result="expired"\} \d+/);
  expect(text).toMatch(/gateway_cost_usd_total\{provider="openai",model="gpt-4o-mini"\} [\d.e-]+/);
  expect(text).toMatch(/gateway_usage_records_total\{result="written"\} \d+/);
  for (const s of ALL_SECRETS) expect(text).not.toContain(s);
  expect(text).not.toMatch(/key_id|user1|team-a/);
});

test('no key appears in any log line of the run', () => {
  const out = gw.output();
  for (const s of ALL_SECRETS) expect(out).not.toContain(s);
  expect(out).not.toContain('sk-real-via-api');
});
