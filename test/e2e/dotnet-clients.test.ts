import path from 'node:path';
import Database from 'better-sqlite3';
import { SseParser } from '../../src/domain/sse';
import { allocatePorts, CLIENT_KEY, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, streamPieces, type FakeOpenAI } from '../helpers/fake-openai';

/**
 * The earlier .NET gateway's API (src/surfaces/dotnet), end to end through real Envoy with
 * `X-API-Key`: completion (both body shapes), completion/stream (SSE), embedding, the model
 * lists, the admin usage alias; key roles, usage records, the content filter and the response
 * cache (its replays in the .NET shape) as on /v1.
 */

const UPSTREAM_KEY = 'sk-upstream-dotnet-0123456789';
const ADMIN = 'sk-admin-dotnet-0123456789';
const COMPLETION_ONLY = 'sk-completion-only-dotnet-0123';

let fake: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const ports = await allocatePorts();
  gw = await startGateway({
    ports,
    env: { FAKE_OPENAI_KEY: UPSTREAM_KEY },
    config: {
      providers: [
        { name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key_env: 'FAKE_OPENAI_KEY', models: ['gpt-*'] },
        { name: 'echo', type: 'openai-compatible', base_url: `http://127.0.0.1:${ports.echo}/v1`, models: ['echo'] },
      ],
      models: [{ id: 'gpt-4-turbo', provider: 'openai', model: 'gpt-4-turbo', display_name: 'GPT-4 Turbo', context_window: 128000 }],
      keys: {
        admin: [{ key: ADMIN, id: 'root' }],
        entries: { [CLIENT_KEY]: { name: 'dotnet-client', user: 'dotnet', team: 'qa' }, [COMPLETION_ONLY]: { name: 'completion-only', roles: ['completion'] } },
      },
      security: {
        content_filtering_enabled: true,
        content_filters: [{ name: 'dotnet', rules: [{ name: 'block-codename', target: 'request', pattern: 'project[- ]falcon', flags: 'i', action: 'block' }] }],
      },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins({ use: 'response-cache', options: { enabled: true, redis_url: '' } }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.handle(undefined);
});

const post = (p: string, body: unknown, key = CLIENT_KEY, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${p}`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const get = (p: string, key = CLIENT_KEY) => fetch(`${gw.url}${p}`, { headers: { 'x-api-key': key } });

/** The OpenAI error shape, with the status a client gets. */
async function expectError(res: Response, status: number, code: string, param?: string): Promise<any> {
  const body = await res.json();
  expect([res.status, body.error?.code]).toEqual([status, code]);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}

test('POST /api/v1/completion takes the .NET DTO: OpenAI body upstream, OpenAI answer with the .NET fields', async () => {
  const dto = { modelId: 'openai.gpt-4-turbo', prompt: 'Hello', systemPrompt: 'Be brief.', maxTokens: 50, temperature: 0.3, topP: 0.9, stopSequences: null, userId: 'u-1' };
  const res = await post('/api/v1/completion', dto);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('openai/gpt-4-turbo');
  const body = await res.json();
  expect(body).toMatchObject({
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'echo: Hello' }, finish_reason: 'stop' }],
    content: 'echo: Hello',
    modelId: 'openai.gpt-4-turbo',
    provider: 'openai',
    finishReason: 'stop',
    usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, promptTokens: 9, completionTokens: 3, totalTokens: 12 },
  });
  // The provider got an OpenAI body with its credential, never the client's key.
  const upstream = fake.requests[0];
  expect(upstream.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  expect(upstream.headers['x-api-key']).toBeUndefined();
  expect(upstream.json).toEqual({
    model: 'gpt-4-turbo',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ],
    max_tokens: 50,
    temperature: 0.3,
    top_p: 0.9,
    user: 'u-1',
  });
});

test('POST /api/v1/completion takes the OpenAI body too', async () => {
  const res = await post('/api/v1/completion', { model: 'gpt-4-turbo', messages: [{ role: 'user', content: 'Hi there' }] });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect([body.content, body.choices[0].message.content, body.modelId]).toEqual(['echo: Hi there', 'echo: Hi there', 'gpt-4-turbo']);
});

test('POST /api/v1/completion/stream: OpenAI chunks carrying `content`, ending with [DONE]', async () => {
  fake.handle(streamPieces(['Hel', 'lo, ', 'world']));
  const res = await post('/api/v1/completion/stream', { modelId: 'openai.gpt-4-turbo', prompt: 'stream please' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events = new SseParser().push(await res.text());
  expect(events.at(-1)!.data).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => e.json as any);
  for (const c of chunks) {
    expect(c.object).toBe('chat.completion.chunk');
    expect(typeof c.content).toBe('string');
    expect(c.modelId).toBe('openai.gpt-4-turbo');
  }
  expect(chunks.map((c) => c.content).join('')).toBe('Hello, world');
  expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello, world');
  expect(chunks.at(-1).finishReason).toBe('stop');
  // The stream was asked of the provider (with usage, for the record).
  expect(fake.requests[0].json).toMatchObject({ model: 'gpt-4-turbo', stream: true, stream_options: { include_usage: true } });
});

test('POST /api/v1/embedding with `texts`; a key without the embedding role is refused', async () => {
  const res = await post('/api/v1/embedding', { modelId: 'echo', texts: ['one', 'two'] });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.object).toBe('list');
  expect(body.data).toHaveLength(2);
  expect(body.embeddings).toHaveLength(2);
  expect(body.embeddings[0]).toEqual(body.data[0].embedding);
  expect(body).toMatchObject({ modelId: 'echo', provider: 'echo' });
  expect(body.usage.promptTokens).toBe(body.usage.prompt_tokens);

  await expectError(await post('/api/v1/embedding', { modelId: 'echo', text: 'one' }, COMPLETION_ONLY), 403, 'insufficient_permissions');
  // The same key may complete.
  expect((await post('/api/v1/completion', { modelId: 'echo', prompt: 'ok' }, COMPLETION_ONLY)).status).toBe(200);
});

test('bad input: 4xx in OpenAI’s shape naming the field, never a 5xx', async () => {
  await expectError(await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo', prompt: 'x', maxTokens: '100' }), 400, 'invalid_type', 'maxTokens');
  await expectError(await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo' }), 400, 'missing_required_parameter', 'messages');
  await expectError(await post('/api/v1/completion', { prompt: 'x' }), 400, 'missing_required_parameter', 'model');
  await expectError(await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo', prompt: 'x', topP: 7 }), 400, 'invalid_value', 'topP');
  await expectError(await post('/api/v1/completion/stream', { modelId: 'openai.gpt-4-turbo', prompt: 'x', temperature: 'hot' }), 400, 'invalid_type', 'temperature');
  await expectError(await post('/api/v1/embedding', { modelId: 'echo', texts: [1, 2] }), 400, 'invalid_type', 'texts');
  // OpenAI-shaped fields are checked by request-validation, named as sent.
  await expectError(await post('/api/v1/completion', { model: 'gpt-4-turbo', messages: [{ role: 'wizard', content: 'x' }] }), 400, 'invalid_value', 'messages[0].role');
  await expectError(await post('/api/v1/completion', '{"modelId":'), 400, 'invalid_json');
  await expectError(await post('/api/v1/completion', '[1,2]'), 400, 'invalid_request_body');
  await expectError(await post('/api/v1/completion', { modelId: 'nobody.nothing', prompt: 'x' }), 404, 'model_not_found', 'model');
  await expectError(await fetch(`${gw.url}/api/v1/completion`, { headers: { 'x-api-key': CLIENT_KEY } }), 405, 'method_not_allowed');
  await expectError(await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo', prompt: 'x' }, 'sk-wrong-key-0123456789'), 401, 'invalid_api_key');
  await expectError(await post('/api/v1/nothing', {}), 404, 'unknown_url');
  expect(fake.requests).toHaveLength(0);
});

test('the content filter applies: a block rule refuses with 400 in OpenAI’s shape, nothing goes upstream', async () => {
  const body = await expectError(await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo', prompt: 'Tell me about Project Falcon.' }), 400, 'content_filtered');
  expect(body.error.type).toBe('invalid_request_error');
  await expectError(await post('/api/v1/completion/stream', { modelId: 'openai.gpt-4-turbo', prompt: 'project-falcon plans' }), 400, 'content_filtered');
  expect(fake.requests).toHaveLength(0);
});

test('a cached answer is replayed in the .NET shape, buffered and as a stream', async () => {
  const dto = { modelId: 'openai.gpt-4-turbo', prompt: 'cache me' };
  const first = await post('/api/v1/completion', dto);
  expect([first.status, first.headers.get('x-gateway-cache')]).toEqual([200, 'miss']);
  await first.json();
  const hit = await waitFor(async () => {
    const res = await post('/api/v1/completion', dto);
    return res.headers.get('x-gateway-cache') === 'hit' ? res : void (await res.text());
  });
  expect(await hit.json()).toMatchObject({ content: 'echo: cache me', modelId: 'openai.gpt-4-turbo', provider: 'openai', finishReason: 'stop', usage: { totalTokens: 12, total_tokens: 12 } });

  const streamed = await post('/api/v1/completion/stream', dto);
  expect([streamed.headers.get('x-gateway-cache'), streamed.headers.get('content-type')]).toEqual(['hit', 'text/event-stream']);
  const events = new SseParser().push(await streamed.text());
  expect(events.at(-1)!.data).toBe('[DONE]');
  expect(events.slice(0, -1).map((e) => (e.json as any).content).join('')).toBe('echo: cache me');
  expect(fake.requests).toHaveLength(1);
});

test('GET /api/v1/models, /models/{id} and /models/provider/{name} (case-insensitive)', async () => {
  const list = await (await get('/api/v1/models')).json();
  expect(list.object).toBe('list');
  expect(list.data.map((m: any) => m.id).sort()).toEqual(['echo', 'gpt-4-turbo']);
  expect(list.data.find((m: any) => m.id === 'gpt-4-turbo')).toMatchObject({ provider: 'openai', display_name: 'GPT-4 Turbo', displayName: 'GPT-4 Turbo', contextWindow: 128000 });

  const one = await get('/api/v1/models/openai.gpt-4-turbo');
  expect(one.status).toBe(200);
  expect(await one.json()).toMatchObject({ id: 'openai.gpt-4-turbo', object: 'model', provider: 'openai', displayName: 'openai.gpt-4-turbo' });
  await expectError(await get('/api/v1/models/nobody.nothing'), 404, 'model_not_found');

  for (const name of ['OpenAI', 'openai', 'OPENAI']) {
    const res = await get(`/api/v1/models/provider/${name}`);
    expect([name, res.status]).toEqual([name, 200]);
    expect((await res.json()).data.map((m: any) => [m.id, m.provider])).toEqual([['gpt-4-turbo', 'openai']]);
  }
  expect((await (await get('/api/v1/models/provider/Echo')).json()).data.map((m: any) => m.id)).toEqual(['echo']);
  await expectError(await get('/api/v1/models/provider/Nobody'), 404, 'provider_not_found', 'provider');
  await expectError(await get('/api/v1/models'.replace('models', 'models/provider/OpenAI'), 'sk-wrong-key-0123456789'), 401, 'invalid_api_key');
});

test('a usage record is written for /api/v1/completion', async () => {
  const res = await post('/api/v1/completion', { modelId: 'openai.gpt-4-turbo', prompt: 'count me' }, CLIENT_KEY, { 'x-request-id': 'dotnet-usage-1' });
  expect(res.status).toBe(200);
  const record = await waitFor(() => {
    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
    try {
      return db.prepare('SELECT * FROM usage_records WHERE request_id = ?').get('dotnet-usage-1') as any;
    } finally {
      db.close();
    }
  });
  expect(record).toMatchObject({
    api: 'chat.completions',
    endpoint: 'standard',
    provider: 'openai',
    model_requested: 'openai.gpt-4-turbo',
    user_id: 'dotnet',
    team: 'qa',
    prompt_tokens: 9,
    completion_tokens: 3,
    total_tokens: 12,
    status: 200,
  });
});

test('GET /api/v1/admin/usage: the /v1/usage report for admins, endDate inclusive of its whole day', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const admin = (q: string) => fetch(`${gw.url}/api/v1/admin/usage?${q}`, { headers: { 'x-api-key': ADMIN } });

  // Today's requests (above) are in a range ending today.
  const alias = await waitFor(async () => {
    const body = await (await admin(`startDate=${today}&endDate=${today}&group_by=provider`)).json();
    return body.data?.length ? body : undefined;
  });
  expect(alias).toMatchObject({ object: 'usage.report', start: `${today}T00:00:00.000Z`, end: `${tomorrow}T00:00:00.000Z`, group_by: 'provider', scope: 'all' });
  const direct = await (await fetch(`${gw.url}/v1/usage?start=${today}&end=${tomorrow}&group_by=provider`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
  expect(alias.data).toEqual(direct.data);
  expect(alias.data.find((r: any) => r.group === 'openai')?.requests).toBeGreaterThan(0);

  const january = await admin('startDate=2023-01-01&endDate=2023-01-31');
  expect(january.status).toBe(200);
  expect(await january.json()).toMatchObject({ start: '2023-01-01T00:00:00.000Z', end: '2023-02-01T00:00:00.000Z', data: [{ requests: 0 }] });
  // Midnight of a day, as a .NET DateTime of a date is sent, is that whole day too.
  expect((await (await admin('startDate=2023-01-01T00:00:00&endDate=2023-01-31T00:00:00')).json()).end).toBe('2023-02-01T00:00:00.000Z');

  await expectError(await admin('startDate=2023-01-31&endDate=yesterday'), 400, 'invalid_parameter', 'endDate');
  await expectError(await admin('startDate=2023-02-01&endDate=2023-01-01'), 400, 'invalid_parameter', 'endDate');
  await expectError(await fetch(`${gw.url}/api/v1/admin/usage`, { headers: { 'x-api-key': CLIENT_KEY } }), 403, 'insufficient_permissions');
  await expectError(await fetch(`${gw.url}/api/v1/admin/usage`), 401, 'missing_api_key');
});
