import { CLIENT_KEY, chat, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';

/** GET /v1/models lists what the caller may use; mappings route; embeddings pass through. */

const LIMITED = 'sk-limited-models-key-123';
let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway({
    config: {
      keys: { entries: { [CLIENT_KEY]: { name: 'all' }, [LIMITED]: { name: 'limited', allowed_models: ['echo'] } } },
      models: [{ id: 'my-echo', provider: 'echo', model: 'echo', display_name: 'My Echo', context_window: 4096 }],
      plugins: testPlugins(),
    },
  });
});

afterAll(() => gw?.stop());

const get = (path: string, key = CLIENT_KEY) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

test('GET /v1/models lists mappings and declared models in the OpenAI list shape', async () => {
  const res = await get('/v1/models');
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.object).toBe('list');
  expect(body.data.map((m: any) => m.id)).toEqual(['echo', 'my-echo']);
  expect(body.data[1]).toMatchObject({ id: 'my-echo', object: 'model', owned_by: 'echo', provider: 'echo', display_name: 'My Echo', context_window: 4096 });
  expect((await (await get('/models')).json()).data).toHaveLength(2);
});

test('?provider= filters, /v1/models/{id} returns one, unknown ids 404', async () => {
  expect((await (await get('/v1/models?provider=nobody')).json()).data).toEqual([]);
  expect((await (await get('/v1/models?provider=echo')).json()).data).toHaveLength(2);
  const one = await (await get('/v1/models/my-echo')).json();
  expect(one).toMatchObject({ id: 'my-echo', provider: 'echo', context_window: 4096 });
  const missing = await get('/v1/models/gpt-99');
  expect(missing.status).toBe(404);
  expect((await missing.json()).error.code).toBe('model_not_found');
});

test("a key's allowed models limit what it sees and uses", async () => {
  expect((await (await get('/v1/models', LIMITED)).json()).data.map((m: any) => m.id)).toEqual(['echo']);
  expect((await get('/v1/models/my-echo', LIMITED)).status).toBe(404);
  const refused = await chat(gw.url, { model: 'my-echo', messages: [{ role: 'user', content: 'x' }] }, { authorization: `Bearer ${LIMITED}` });
  expect(refused.status).toBe(403);
});

test('a mapped model id routes to its provider model', async () => {
  const res = await chat(gw.url, { model: 'my-echo', messages: [{ role: 'user', content: 'mapped' }] });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('echo/echo');
  expect((await res.json()).choices[0].message.content).toBe('mapped');
});

test('embeddings pass through to an OpenAI-compatible provider', async () => {
  const res = await fetch(`${gw.url}/v1/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'echo', input: ['one', 'two'] }),
  });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.object).toBe('list');
  expect(body.data).toHaveLength(2);
  expect(body.data[0].embedding.length).toBeGreaterThan(0);
  expect(body.usage.prompt_tokens).toBeGreaterThan(0);
});

test('GET /v1/models/{id} knows every id chat routes, and refuses what chat refuses', async () => {
  for (const id of ['echo', 'echo.echo', 'echo/echo', 'echo.other-model', 'my-echo']) {
    const res = await get(`/v1/models/${id}`);
    expect([id, res.status]).toEqual([id, 200]);
    expect(await res.json()).toMatchObject({ id, object: 'model', owned_by: 'echo', provider: 'echo' });
  }
  const routed = await chat(gw.url, { model: 'echo.echo', messages: [{ role: 'user', content: 'prefixed' }] });
  expect(routed.status).toBe(200);
  expect(routed.headers.get('x-gateway-served-by')).toBe('echo/echo');

  for (const id of ['nobody.echo', 'nobody/echo', 'echo.', 'gpt-4o-mini']) {
    const res = await get(`/v1/models/${id}`);
    expect([id, res.status]).toEqual([id, 404]);
    expect((await res.json()).error.code).toBe('model_not_found');
    expect((await chat(gw.url, { model: id, messages: [{ role: 'user', content: 'x' }] })).status).toBe(404);
  }
  // Allowed models ['echo']: another spelling of it is not allowed, here as in chat.
  expect((await get('/v1/models/echo', LIMITED)).status).toBe(200);
  expect((await get('/v1/models/echo.echo', LIMITED)).status).toBe(404);
  const refused = await chat(gw.url, { model: 'echo.echo', messages: [{ role: 'user', content: 'x' }] }, { authorization: `Bearer ${LIMITED}` });
  expect(refused.status).toBe(403);
});
