import { CLIENT_KEY, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';

/**
 * JSON keys that are names every JavaScript object has (`__proto__`, `constructor`, ...), sent
 * through real Envoy to the admin API and the OpenAI endpoints: refused like any unknown name
 * (400, OpenAI's error shape, naming the key), nothing stored, and no crash.
 */

const ADMIN = 'sk-admin-inherited-names-0123456789';
const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway({ config: { keys: { admin: [{ key: ADMIN, id: 'root' }] }, plugins: testPlugins() } });
});

afterAll(async () => {
  await gw?.stop();
});

/** `{"<name>": value}` as raw JSON text: an object literal would set a prototype instead of a key. */
const keyed = (name: string, value: unknown): string => `{${JSON.stringify(name)}:${JSON.stringify(value)}}`;
/** `base` (a JSON object) with one more key, written as text. */
const withKey = (base: Record<string, unknown>, name: string, value: unknown): string => `${JSON.stringify(base).slice(0, -1)},${keyed(name, value).slice(1)}`;

async function call(method: string, path: string, body?: string, token = ADMIN) {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

function expectRefused(res: { status: number; body: any }, code: string, param: string): void {
  expect([res.status, res.body]).toEqual([
    400,
    { error: { message: expect.stringContaining(param), type: 'invalid_request_error', param, code } },
  ]);
}

describe('PUT /v1/security/config', () => {
  const rule = { name: 'r', pattern: 'x', action: 'block' };
  const bodies = (n: string): [string, string][] => [
    [keyed(n, { data_isolation_enabled: true }), n],
    [keyed(n, 1), n],
    [withKey({ data_isolation_enabled: true }, n, 'x'), n],
    [`{"content_filters":[${withKey({ name: 's', rules: [] }, n, {})}]}`, `content_filters[0].${n}`],
    [`{"content_filters":[{"name":"s","rules":[${withKey(rule, n, 1)}]}]}`, `content_filters[0].rules[0].${n}`],
    [`{"content_filters":[{"name":"s","rules":[{"name":"r","action":"flag","detectors":[${withKey({ type: 'pii' }, n, [])}]}]}]}`, `content_filters[0].rules[0].detectors[0].${n}`],
  ];

  test.each(NAMES)('%s, at the top level or nested in the rule sets, is refused and nothing is stored', async (n) => {
    const before = await call('GET', '/v1/security/config');
    expect(before.status).toBe(200);
    for (const [body, param] of bodies(n)) {
      const res = await call('PUT', '/v1/security/config', body);
      expectRefused(res, 'invalid_settings', param);
    }
    const after = await call('GET', '/v1/security/config');
    expect(after.body).toEqual(before.body);
    expect(Object.keys(after.body).sort()).toEqual(['audit_logging_enabled', 'content_filtering_enabled', 'content_filters', 'data_isolation_enabled']);
    expect(after.headers.get('x-gateway-settings-version')).toBe(before.headers.get('x-gateway-settings-version'));
  });
});

describe('keys and providers API', () => {
  test.each(NAMES)('a key with %s at the top level or in its metadata is refused', async (n) => {
    const before = (await call('GET', '/v1/keys')).body.data.length;
    expectRefused(await call('POST', '/v1/keys', withKey({ user: 'u' }, n, 'x')), 'invalid_key_settings', n);
    expectRefused(await call('POST', '/v1/keys', `{"user":"u","metadata":${keyed(n, { a: 1 })}}`), 'invalid_key_settings', `metadata.${n}`);
    expect((await call('GET', '/v1/keys')).body.data.length).toBe(before);
  });

  test.each(NAMES)('a provider with %s at the top level or as a header name is refused', async (n) => {
    const spec = { name: 'named', type: 'openai-compatible', base_url: `http://127.0.0.1:${gw.ports.echo}/v1`, model_names: ['named-model'] };
    expectRefused(await call('POST', '/v1/providers', withKey(spec, n, 'x')), 'invalid_provider', n);
    expectRefused(await call('POST', '/v1/providers', `${JSON.stringify(spec).slice(0, -1)},"headers":${keyed(n, 'v')}}`), 'invalid_provider', `headers.${n}`);
    expect((await call('GET', '/v1/providers/named')).status).toBe(404);
  });
});

describe('the OpenAI endpoints', () => {
  test.each(NAMES)('a chat request for the model %s is 404 model_not_found', async (n) => {
    const res = await call('POST', '/v1/chat/completions', JSON.stringify({ model: n, messages: [{ role: 'user', content: 'hi' }] }), CLIENT_KEY);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'model_not_found', type: 'not_found_error' });
    expect((await call('GET', `/v1/models/${encodeURIComponent(n)}`, undefined, CLIENT_KEY)).body.error).toMatchObject({ code: 'model_not_found' });
  });

  test('a known model still answers after all of the above', async () => {
    const res = await call('POST', '/v1/chat/completions', JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'still here' }] }), CLIENT_KEY);
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toContain('still here');
  });
});
