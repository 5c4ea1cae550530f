import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * Live provider management: providers added through the API reach Envoy as clusters over xDS
 * and take traffic within 2 s, without restarting Envoy; removed ones stop, without dropping a
 * request already in flight.
 */

const ADMIN = 'sk-admin-providers-0123456789';
const USER = 'sk-user-providers-0123456789';
let fake: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  gw = await startGateway({
    config: {
      keys: { entries: { [USER]: { name: 'user' } }, admin: [{ key: ADMIN, id: 'root' }] },
      plugins: testPlugins(),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const api = (path: string, init: RequestInit = {}, key = ADMIN) =>
  fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
const chatAs = (model: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
const envoyClusters = async () => (await fetch(`http://127.0.0.1:${gw.ports.envoyAdmin}/clusters`)).text();

test('an added provider serves within 2 s and shows in Envoy; after DELETE it is gone and its models 404', async () => {
  expect((await chatAs('late-model')).status).toBe(404);
  const started = Date.now();
  const created = await api('/v1/providers', {
    method: 'POST',
    body: JSON.stringify({ name: 'late', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-late-provider-secret', model_names: ['late-model'] }),
  });
  expect(created.status).toBe(201);
  const body = await created.json();
  expect(body).toMatchObject({ name: 'late', type: 'openai-compatible', source: 'api', has_api_key: true, models: ['late-model'], applied: true });
  expect(JSON.stringify(body)).not.toContain('sk-late-provider-secret');

  const ok = await waitFor(async () => {
    const r = await chatAs('late-model');
    return r.status === 200 ? r : undefined;
  }, 2000, 25);
  expect(Date.now() - started).toBeLessThan(2000);
  expect((await ok.json()).choices[0].message.content).toBe('echo: hi');
  expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-late-provider-secret');
  expect(await envoyClusters()).toContain('provider_late::');

  const list = await (await api('/v1/providers')).json();
  expect(list.data.map((p: any) => p.name)).toEqual(expect.arrayContaining(['echo', 'late']));
  expect(JSON.stringify(list)).not.toContain('sk-late-provider-secret');

  const deleted = await api('/v1/providers/late', { method: 'DELETE' });
  expect(deleted.status).toBe(200);
  expect((await deleted.json()).applied).toBe(true);
  const gone = await chatAs('late-model');
  expect(gone.status).toBe(404);
  expect((await gone.json()).error.code).toBe('model_not_found');
  expect(await envoyClusters()).not.toContain('provider_late::');
});

test('removing a provider does not drop a request already in flight to it', async () => {
  await api('/v1/providers', { method: 'POST', body: JSON.stringify({ name: 'slowpoke', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-x', model_names: ['slow-model'] }) });
  let arrived!: () => void;
  const inUpstream = new Promise<void>((r) => (arrived = r));
  fake.handle(async (req, res) => {
    arrived();
    await new Promise((r) => setTimeout(r, 1500));
    sendJson(res, 200, completion(req.json.model, 'finished anyway'));
  });
  try {
    const inflight = chatAs('slow-model');
    await inUpstream;
    expect((await api('/v1/providers/slowpoke', { method: 'DELETE' })).status).toBe(200);
    const res = await inflight;
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe('finished anyway');
  } finally {
    fake.handle(undefined);
  }
});

test('the providers API validates input, protects configuration providers and needs the admin role', async () => {
  const cases: [RequestInit & { path?: string }, number, string][] = [
    [{ method: 'POST', body: JSON.stringify({ name: 'x', type: 'openai-compatible' }) }, 400, 'base_url'],
    [{ method: 'POST', body: JSON.stringify({ name: 'Bad Name', type: 'openai-compatible', base_url: 'http://a' }) }, 400, 'name'],
    [{ method: 'POST', body: JSON.stringify({ name: 'x', type: 'nonsense', base_url: 'http://a' }) }, 400, 'type'],
    [{ method: 'POST', body: JSON.stringify({ name: 'x', type: 'openai-compatible', base_url: 'ftp://a' }) }, 400, 'base_url'],
    [{ method: 'POST', body: JSON.stringify({ name: 'echo', type: 'openai-compatible', base_url: 'http://a' }) }, 409, 'name'],
    [{ method: 'DELETE', path: '/v1/providers/echo' }, 409, 'name'],
  ];
  for (const [init, status, param] of cases) {
    const res = await api(init.path ?? '/v1/providers', init);
    expect(res.status).toBe(status);
    expect((await res.json()).error.param).toBe(param);
  }
  expect((await api('/v1/providers/nope', { method: 'DELETE' })).status).toBe(404);
  expect((await api('/v1/providers', {}, USER)).status).toBe(403);
  expect((await fetch(`${gw.url}/v1/providers`)).status).toBe(401);
});

test('providers added through the API survive a restart (they live in the store)', async () => {
  await api('/v1/providers', { method: 'POST', body: JSON.stringify({ name: 'durable', type: 'openai-compatible', base_url: fake.url, api_key_env: 'NOT_SET_ANYWHERE', model_names: ['durable-model'] }) });
  const listed = await (await api('/v1/providers/durable')).json();
  expect(listed).toMatchObject({ api_key_env: 'NOT_SET_ANYWHERE', has_api_key: false });
  // Restart on the same data folder.
  const config = { store: { data_dir: `${gw.dir}/data` }, keys: { entries: { [USER]: { name: 'user' } }, admin: [{ key: ADMIN, id: 'root' }] }, plugins: testPlugins() };
  const again = await startGateway({ config });
  try {
    const r = await fetch(`${again.url}/v1/providers/durable`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(200);
    // Its key variable is unset: the provider is known but cannot serve, which is a 503, not a 404.
    const res = await fetch(`${again.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'durable-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('provider_not_configured');
  } finally {
    await again.stop();
  }
});

test('/health reports each provider from Envoy\'s view', async () => {
  const h = await (await fetch(`${gw.url}/health`)).json();
  expect(h.status).toBe('healthy');
  expect(h.providers.echo).toMatchObject({ healthy: true, ejected: false, circuit_open: false });
});

describe("LiteLLM's short body {base_url, api_key, model_names}", () => {
  const post = (body: unknown) => api('/v1/providers', { method: 'POST', body: JSON.stringify(body) });

  test('is an openai-compatible provider named after its host: it serves, and DELETE takes the returned name', async () => {
    const host = `127-0-0-1-${new URL(fake.url).port}`;
    const created = await post({ base_url: fake.url, api_key: 'sk-short-body-secret', model_names: ['short-model'] });
    expect(created.status).toBe(201);
    const first = await created.json();
    expect(first).toMatchObject({ name: host, type: 'openai-compatible', source: 'api', has_api_key: true, models: ['short-model'], applied: true });
    expect(JSON.stringify(first)).not.toContain('sk-short-body-secret');

    // The same body again is another provider, under a name of its own.
    const again = await post({ base_url: fake.url, api_key: 'sk-short-body-second', model_names: ['short-model'] });
    expect(again.status).toBe(201);
    const second = await again.json();
    expect(second.name).toBe(`${host}-2`);
    expect((await (await api(`/v1/providers/${second.name}`)).json()).type).toBe('openai-compatible');

    const served = await chatAs('short-model');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-gateway-served-by')).toBe(`${host}/short-model`);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-short-body-secret');
    expect((await chatAs(`${second.name}/short-model`)).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-short-body-second');

    for (const p of [first, second]) {
      const deleted = await api(`/v1/providers/${p.name}`, { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toMatchObject({ name: p.name, deleted: true });
    }
    expect((await chatAs('short-model')).status).toBe(404);
    expect(await envoyClusters()).not.toContain(`provider_${host}::`);
  });

  test('bad input is a 400 in the OpenAI error shape naming the field; a PUT still names its provider and type', async () => {
    const before = (await (await api('/v1/providers')).json()).data.length;
    const cases: [string, string, unknown][] = [
      ['POST', 'model_names', { base_url: fake.url, api_key: 'sk-x', model_names: 'short-model' }],
      ['POST', 'model_names', { base_url: fake.url, api_key: 'sk-x', model_names: ['ok', 7] }],
      ['POST', 'model_names', { base_url: fake.url, api_key: 'sk-x', model_names: [''] }],
      ['POST', 'base_url', { api_key: 'sk-x', model_names: ['m'] }],
      ['POST', 'base_url', { base_url: 'ftp://example.com', api_key: 'sk-x', model_names: ['m'] }],
      ['POST', 'api_key', { base_url: fake.url, api_key: 7, model_names: ['m'] }],
      ['POST', 'type', { base_url: fake.url, type: 'nonsense', model_names: ['m'] }],
      ['POST', 'model', { base_url: fake.url, model: 'm' }],
      ['PUT', 'name', { base_url: fake.url, type: 'openai-compatible' }],
      ['PUT', 'type', { name: 'put-me', base_url: fake.url }],
    ];
    for (const [method, param, body] of cases) {
      const res = await api(method === 'PUT' ? '/v1/providers/put-me' : '/v1/providers', { method, body: JSON.stringify(body) });
      expect([method, param, res.status]).toEqual([method, param, 400]);
      const { error } = await res.json();
      expect(error).toEqual({ message: expect.stringContaining(param), type: 'invalid_request_error', param, code: 'invalid_provider' });
    }
    expect((await (await api('/v1/providers')).json()).data.length).toBe(before);
  });
});
