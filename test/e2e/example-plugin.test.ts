import path from 'node:path';
import { chat, ROOT, startGateway, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

/** The example plugin in docs/plugins.md works as documented, loaded by path through real Envoy. */

let gw: RunningGateway;
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  gw = await startGateway({
    config: {
      providers: [{ name: 'fake', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-example', models: ['gpt-*', 'o1*'] }],
      plugins: [
        { use: 'virtual-keys' },
        { use: path.join(ROOT, 'examples/plugins/request-tagger.js'), options: { tag: 'team-blue', blocked_models: ['gpt-4o', 'o1*'] } },
        { use: 'model-router' },
      ],
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

test('tags the upstream request and the client response', async () => {
  const res = await chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-tag')).toBe('team-blue');
  expect(fake.requests.at(-1)!.headers['x-request-tag']).toBe('team-blue');
});

test.each(['gpt-4o', 'o1-preview'])('blocks %s with a 403 before it reaches the provider', async (model) => {
  const before = fake.requests.length;
  const res = await chat(gw.url, { model, messages: [{ role: 'user', content: 'hi' }] });
  expect(res.status).toBe(403);
  expect((await res.json()).error).toMatchObject({ code: 'model_blocked', param: 'model' });
  expect(fake.requests.length).toBe(before);
});
