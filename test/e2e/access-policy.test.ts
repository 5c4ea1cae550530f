import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { chat, ROOT, startGateway, type RunningGateway } from '../helpers/gateway';

/**
 * The caller's allowed models and providers are enforced by the core for whatever target a
 * plugin chooses: a routing plugin of one's own, placed before model-router, cannot route a key
 * around them (through real Envoy).
 */

// Sends every request to the provider and model its `x-route-to` header names (`provider/model`).
const ROUTER = `
const { definePlugin } = require(${JSON.stringify(ROOT)});
module.exports = definePlugin({
  name: 'header-router',
  create() {
    return {
      onRequest(ctx) {
        const to = ctx.request.headers.get('x-route-to');
        if (!to) return;
        const [provider, model] = to.split('/');
        ctx.target = { provider, type: 'openai-compatible', model };
      },
    };
  },
});
`;

const LIMITED = 'sk-test-limited-models';
const ONE_PROVIDER = 'sk-test-one-provider';

let fake: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-access-'));
  fs.writeFileSync(path.join(dir, 'header-router.js'), ROUTER);
  fake = await startFakeOpenAI();
  gw = await startGateway({
    config: {
      providers: [
        { name: 'main', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-main', models: ['gpt-*'] },
        { name: 'spare', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-spare', models: ['spare-*'] },
      ],
      keys: {
        entries: {
          [LIMITED]: { name: 'limited', allowed_models: ['gpt-4o-mini'] },
          [ONE_PROVIDER]: { name: 'one-provider', allowed_providers: ['main'] },
        },
      },
      plugins: [{ use: 'virtual-keys' }, { use: path.join(dir, 'header-router.js') }, { use: 'model-router' }, { use: 'usage-recorder' }],
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const ask = (key: string, model: string, routeTo?: string) =>
  chat(gw.url, { model, messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${key}`, ...(routeTo ? { 'x-route-to': routeTo } : {}) });

test.each([
  ['model-router’s own choice', LIMITED, 'gpt-4o', undefined, 'model_not_allowed'],
  ['a routing plugin before model-router', LIMITED, 'gpt-4o', 'main/gpt-4o', 'model_not_allowed'],
  ['a routing plugin choosing another provider', ONE_PROVIDER, 'gpt-4o', 'spare/spare-1', 'provider_not_allowed'],
])('%s cannot pass the key’s limits: 403 %s', async (_name, key, model, routeTo, code) => {
  const before = fake.requests.length;
  const res = await ask(key, model, routeTo);
  expect(res.status).toBe(403);
  expect((await res.json()).error).toMatchObject({ code, type: 'permission_error', param: 'model' });
  expect(fake.requests.length).toBe(before);
});

test('within the limits the routing plugin’s choice is served', async () => {
  const res = await ask(LIMITED, 'gpt-4o-mini', 'main/gpt-4o-mini');
  expect(res.status).toBe(200);
  const other = await ask(ONE_PROVIDER, 'gpt-4o', 'main/gpt-4o');
  expect(other.status).toBe(200);
  expect(other.headers.get('x-gateway-provider')).toBe('main');
});
