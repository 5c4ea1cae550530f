import { chat, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * GET /v1/metrics/summary through real Envoy carries the earlier Go gateway's metric names
 * (total_requests, requests_by_provider, average_response_ms, last_updated), for each caller's
 * scope: admins everything, a key its own records, its team's with data isolation on.
 */

const ADMIN = 'sk-admin-summary-0123456789';
const A1 = 'sk-summary-team-a-one-0123456';
const A2 = 'sk-summary-team-a-two-0123456';
const B1 = 'sk-summary-team-b-one-0123456';
let fake: FakeOpenAI;
let gw: RunningGateway;
let started: number;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  gw = await startGateway({
    config: {
      keys: {
        admin: [{ key: ADMIN, id: 'root' }],
        entries: { [A1]: { user: 'a1', team: 'team-a' }, [A2]: { user: 'a2', team: 'team-a' }, [B1]: { user: 'b1', team: 'team-b' } },
      },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
    },
  });
  const added = await fetch(`${gw.url}/v1/providers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'second', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-second', model_names: ['second-model'] }),
  });
  expect(added.status).toBe(201);
  started = Date.now();
  const send = async (key: string, model: string) => {
    const res = await chat(gw.url, { model, messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${key}` });
    expect(res.status).toBe(200);
  };
  await send(A1, 'echo');
  await send(A1, 'second-model');
  await send(B1, 'echo');
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const summary = async (key: string) => {
  const res = await fetch(`${gw.url}/v1/metrics/summary`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return res.json();
};
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test("an admin sees every record under the Go gateway's names (and the existing ones)", async () => {
  const s = await waitFor(async () => {
    const got = await summary(ADMIN);
    return got.total_requests === 3 ? got : undefined;
  }, 5000);
  expect(s.requests_by_provider).toEqual({ echo: 2, second: 1 });
  expect(typeof s.average_response_ms).toBe('number');
  expect(s.average_response_ms).toBeGreaterThanOrEqual(0);
  expect(s.average_response_time_ms).toBe(s.average_response_ms);
  expect(s.last_updated).toMatch(ISO);
  expect(Date.parse(s.last_updated)).toBeGreaterThanOrEqual(started - 1000);
  expect(Date.parse(s.last_updated)).toBeLessThanOrEqual(Date.now());
});

test('a key sees its own records; with data isolation on, its team’s; an empty scope has last_updated null', async () => {
  await waitFor(async () => (await summary(ADMIN)).total_requests === 3, 5000);
  expect(await summary(A1)).toMatchObject({ total_requests: 2, requests_by_provider: { echo: 1, second: 1 } });
  expect(await summary(B1)).toMatchObject({ total_requests: 1, requests_by_provider: { echo: 1 } });
  expect(await summary(A2)).toEqual({ total_requests: 0, requests_by_provider: {}, average_response_ms: 0, average_response_time_ms: 0, last_updated: null });

  const setIsolation = (on: boolean) =>
    fetch(`${gw.url}/v1/security/config`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data_isolation_enabled: on }),
    });
  expect((await setIsolation(true)).status).toBe(200);
  try {
    const team = await summary(A2);
    expect(team).toMatchObject({ total_requests: 2, requests_by_provider: { echo: 1, second: 1 } });
    expect(team.last_updated).toMatch(ISO);
    expect((await summary(B1)).total_requests).toBe(1);
    expect((await summary(ADMIN)).total_requests).toBe(3);
  } finally {
    expect((await setIsolation(false)).status).toBe(200);
  }
});
