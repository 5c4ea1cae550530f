import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { CLIENT_KEY, ROOT, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { hs256Jwt } from '../helpers/jwt';
import { freePorts } from '../helpers/ports';
import { ADMIN_ROUTES } from '../../src/envoy/config/bootstrap';

/**
 * The OpenAPI document served at /openapi.json, held to the gateway that serves it: real
 * requests through real Envoy to every admin route (and the OpenAI-compatible ones), each
 * answer's status and body checked against the document's schema for that operation; the
 * admin router's routes (enumerated in a processor started from the same build) and the
 * document's admin operations must be the same set; and Swagger UI at /docs loads its bundled
 * files under a Content-Security-Policy without inline script.
 */

const ADMIN = 'sk-admin-openapi-0123456789';
const TEAM_ADMIN = 'sk-team-admin-openapi-0123456789';
const LANGCHAIN = 'langchain-openapi-0123456789';
const JWT_SECRET = 'hs256-secret-for-the-openapi-test-0123456789';
const AUDIENCE = 'llm-gateway-admin';
const DOC_ID = 'https://gateway.invalid/openapi.json';

let gw: RunningGateway;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('date-time', (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)));
const validators = new Map<string, ValidateFunction>();
/** `METHOD /openapi/{path} STATUS` of every answer checked. */
const checked = new Set<string>();

beforeAll(async () => {
  gw = await startGateway({
    env: { ADMIN_JWT_SECRET: JWT_SECRET },
    config: {
      keys: {
        admin: [{ key: ADMIN, id: 'root' }],
        entries: {
          [CLIENT_KEY]: { name: 'test-key', user: 'tester', team: 'qa' },
          [TEAM_ADMIN]: { user: 'lead', team: 'qa', roles: ['admin'] },
          [LANGCHAIN]: { user: 'lc', tier: 'langchain' },
        },
      },
      admin_auth: { jwt: { hs256_secret: 'env:ADMIN_JWT_SECRET', audience: AUDIENCE } },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
    },
  });
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
  ajv.addSchema({ ...doc, $id: DOC_ID });
});

afterAll(async () => {
  await gw?.stop();
});

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const operationOf = (method: string, template: string) => doc.paths[template]?.[method.toLowerCase()];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/**
 * Checks a real answer against the document: the status must be one the operation lists, the
 * media type one it gives for that status, a JSON body valid against its schema, and the headers
 * a success answer lists present.
 */
async function checkAnswer(method: string, template: string, res: Response): Promise<Answer> {
  const op = operationOf(method, template);
  if (!op) throw new Error(`${method} ${template} is not in the document`);
  const text = await res.text();
  const documented = op.responses[String(res.status)];
  if (!documented) throw new Error(`${method} ${template} answered ${res.status}, which the document does not list: ${text.slice(0, 300)}`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const media = Object.keys(documented.content ?? {});
  if (!media.includes(type)) throw new Error(`${method} ${template} ${res.status} answered ${type}; the document lists ${media.join(', ') || 'no body'}`);
  let body: any;
  if (type === 'application/json') {
    body = JSON.parse(text);
    const at = `${DOC_ID}#/${pointer('paths', template, method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema')}`;
    let validate = validators.get(at);
    if (!validate) validators.set(at, (validate = ajv.compile({ $ref: at })));
    if (!validate(body)) {
      throw new Error(`${method} ${template} ${res.status}: the body does not match the document: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 1000)}`);
    }
  }
  if (res.status < 300) {
    for (const name of Object.keys(documented.headers ?? {})) if (!res.headers.has(name)) throw new Error(`${method} ${template} ${res.status}: no ${name} header`);
  }
  checked.add(`${method} ${template} ${res.status}`);
  return { status: res.status, headers: res.headers, text, body };
}

interface CallOptions {
  /** Path parameters of the template. */
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** Sent as `Authorization: Bearer`, unless `headers` carry the credential. */
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as is. */
  raw?: string;
}

/** One request through Envoy to the operation `METHOD template`, its answer checked against the document. */
async function call(method: string, template: string, opts: CallOptions = {}): Promise<Answer> {
  const p = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(opts.params?.[name] ?? ''));
  const q = opts.query ? `?${new URLSearchParams(opts.query)}` : '';
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return checkAnswer(method, template, await fetch(`${gw.url}${p}${q}`, { method, headers, body: payload }));
}

const jwt = (claims: Record<string, unknown>) => hs256Jwt({ aud: AUDIENCE, sub: 'openapi-test', ...claims }, JWT_SECRET, '5m');

/** The admin router's routes in a processor started from the build the gateway runs. */
async function servedAdminRoutes(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-openapi-routes-'));
  const [grpc, admin] = await freePorts(2);
  const script = `
    const { parseConfig } = require(${JSON.stringify(path.join(ROOT, 'dist/src/config/load'))});
    const { startProcessor } = require(${JSON.stringify(path.join(ROOT, 'dist/src/processor'))});
    const { createLogger } = require(${JSON.stringify(path.join(ROOT, 'dist/src/observability/logger'))});
    (async () => {
      const config = parseConfig({ processor: { grpc_port: ${grpc}, admin_port: ${admin}, listen_address: '127.0.0.1' }, demo: { echo: { enabled: false } } }, ${JSON.stringify(dir)}, {});
      const p = await startProcessor(config, createLogger('silent'), { env: {} });
      process.stdout.write(JSON.stringify(p.router.listRoutes()));
      await p.close(0);
      process.exit(0);
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: dir, env: { PATH: process.env.PATH } });
  return JSON.parse(stdout);
}

test('the document is OpenAPI 3.1 and lists exactly the routes the admin router serves, each routed to it by Envoy', async () => {
  expect(doc.openapi).toBe('3.1.0');
  const documented: string[] = [];
  for (const [p, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      // The admin operations are those not tagged as one of the LLM APIs.
      if (!['OpenAI-compatible', 'LangChain', '.NET gateway', 'Anthropic'].includes(op.tags[0])) documented.push(`${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
    }
  }
  const served = await servedAdminRoutes();
  expect(served.length).toBeGreaterThan(15);
  expect([...served].sort()).toEqual([...documented].sort());
  // Every admin path reaches the admin server through Envoy (an example value for each parameter).
  for (const route of served) {
    const p = route.split(' ')[1].replace(/:\w+/g, 'x');
    expect(ADMIN_ROUTES.some((m) => ('path' in m ? m.path === p : p.startsWith(m.prefix)))).toBe(true);
  }
});

test('keys: every operation, as documented', async () => {
  const created = await call('POST', '/v1/keys', { token: ADMIN, body: { name: 'doc-key', user: 'alice', team: 'qa', roles: ['completion'], budget_usd: 5 } });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect((await call('POST', '/v1/keys', { token: ADMIN })).status).toBe(201);
  expect((await call('POST', '/v1/keys', { token: ADMIN, body: { roles: ['wizard'] } })).body.error.code).toBe('invalid_key_settings');
  expect((await call('POST', '/v1/keys', { token: ADMIN, raw: '{"name":' })).body.error.code).toBe('invalid_json');
  expect((await call('POST', '/v1/keys', { body: { name: 'x' } })).body.error.code).toBe('missing_api_key');
  expect((await call('POST', '/v1/keys', { token: 'sk-not-a-key-0123456789', body: {} })).body.error.code).toBe('invalid_api_key');
  expect((await call('POST', '/v1/keys', { token: CLIENT_KEY, body: {} })).body.error.code).toBe('insufficient_permissions');
  // Envoy holds admin bodies to 64 KiB (its JSON local reply).
  expect((await call('POST', '/v1/keys', { token: ADMIN, body: { metadata: { blob: 'x'.repeat(70 * 1024) } } })).status).toBe(413);

  // The same key in X-API-Key and in api-key; a JWT with the admin role.
  const list = await call('GET', '/v1/keys', { headers: { 'x-api-key': ADMIN } });
  expect(list.body.data.map((k: any) => k.id)).toContain(id);
  expect((await call('GET', '/v1/keys', { headers: { 'api-key': ADMIN }, query: { team: 'qa' } })).status).toBe(200);
  expect((await call('GET', '/v1/keys', { token: await jwt({ roles: ['admin'] }) })).status).toBe(200);
  const badJwt = await call('GET', '/v1/keys', { token: `${await jwt({ roles: ['admin'] })}x` });
  expect([badJwt.status, badJwt.body.error.code, badJwt.headers.get('www-authenticate')]).toEqual([401, 'invalid_token', 'Bearer error="invalid_token"']);

  expect((await call('GET', '/v1/keys/{id}', { token: ADMIN, params: { id } })).body.object).toBe('virtual_key');
  expect((await call('GET', '/v1/keys/{id}', { token: ADMIN, params: { id: 'key_missing' } })).body.error.code).toBe('key_not_found');
  expect((await call('PATCH', '/v1/keys/{id}', { token: ADMIN, params: { id }, body: { allowed_models: ['echo'] } })).body.allowed_models).toEqual(['echo']);
  expect((await call('PUT', '/v1/keys/{id}', { token: ADMIN, params: { id }, body: { name: 'doc-key-2' } })).body.name).toBe('doc-key-2');
  expect((await call('PATCH', '/v1/keys/{id}', { token: ADMIN, params: { id }, body: { tier: 'gold' } })).body.error.code).toBe('invalid_key_settings');
  expect((await call('PUT', '/v1/keys/{id}', { token: ADMIN, params: { id: 'key_missing' }, body: {} })).body.error.code).toBe('key_not_found');
  // A key of the configuration follows it: the API may only revoke it.
  const configured = list.body.data.find((k: any) => k.source !== 'api' && k.name === 'test-key');
  expect((await call('PATCH', '/v1/keys/{id}', { token: ADMIN, params: { id: configured.id }, body: { name: 'renamed' } })).body.error.code).toBe('key_conflict');
  // A team admin may not give a key another team.
  expect((await call('POST', '/v1/keys', { token: TEAM_ADMIN, body: { team: 'other' } })).body.error.code).toBe('insufficient_permissions');

  const revoked = await call('DELETE', '/v1/keys/{id}', { token: ADMIN, params: { id } });
  expect([revoked.body.revoked, revoked.body.status]).toEqual([true, 'revoked']);
  expect((await call('DELETE', '/v1/keys/{id}', { token: ADMIN, params: { id: 'key_missing' } })).status).toBe(404);
});

test('the OpenAI-compatible endpoints answer as documented, under /v1 and /v1/langchain', async () => {
  const chat = { model: 'echo', messages: [{ role: 'user', content: 'hello docs' }] };
  expect((await call('POST', '/v1/chat/completions', { token: CLIENT_KEY, body: chat })).body.choices[0].message.content).toBe('hello docs');
  const streamed = await call('POST', '/v1/chat/completions', { token: CLIENT_KEY, body: { ...chat, stream: true } });
  expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(streamed.text.trim().endsWith('data: [DONE]')).toBe(true);
  expect((await call('POST', '/v1/embeddings', { token: CLIENT_KEY, body: { model: 'echo', input: 'hi' } })).body.data).toHaveLength(1);
  expect((await call('POST', '/v1/chat/completions', { token: CLIENT_KEY, body: { model: 'echo' } })).body.error.param).toBe('messages');
  expect((await call('POST', '/v1/chat/completions', { body: chat })).body.error.code).toBe('missing_api_key');
  expect((await call('POST', '/v1/chat/completions', { token: CLIENT_KEY, body: { ...chat, model: 'no-such-model' } })).body.error.code).toBe('model_not_found');
  expect((await call('GET', '/v1/models', { token: CLIENT_KEY })).body.data.map((m: any) => m.id)).toContain('echo');
  expect((await call('GET', '/v1/models', { token: CLIENT_KEY, query: { provider: 'echo' } })).status).toBe(200);
  expect((await call('GET', '/v1/models/{model}', { token: CLIENT_KEY, params: { model: 'echo' } })).body.id).toBe('echo');
  expect((await call('GET', '/v1/models/{model}', { token: CLIENT_KEY, params: { model: 'nope' } })).status).toBe(404);

  expect((await call('POST', '/v1/langchain/chat/completions', { token: LANGCHAIN, body: chat })).status).toBe(200);
  expect((await call('POST', '/v1/langchain/chat/completions', { token: CLIENT_KEY, body: chat })).body.error.code).toBe('invalid_key_tier');
  expect((await call('GET', '/v1/langchain/models', { token: LANGCHAIN })).status).toBe(200);
});

test("the earlier .NET gateway's endpoints answer as documented (X-API-Key)", async () => {
  const key = { 'x-api-key': CLIENT_KEY };
  const dto = { modelId: 'echo.echo', prompt: 'hello dotnet', systemPrompt: null, maxTokens: 20 };
  const done = await call('POST', '/api/v1/completion', { headers: key, body: dto });
  expect([done.body.content, done.body.choices[0].message.content, done.body.modelId]).toEqual(['hello dotnet', 'hello dotnet', 'echo.echo']);
  expect((await call('POST', '/api/v1/completion', { headers: key, body: { model: 'echo', messages: [{ role: 'user', content: 'hi' }] } })).body.content).toBe('hi');
  const streamed = await call('POST', '/api/v1/completion/stream', { headers: key, body: dto });
  expect(streamed.text.trim().endsWith('data: [DONE]')).toBe(true);
  expect((await call('POST', '/api/v1/completion', { headers: key, body: { ...dto, maxTokens: 'many' } })).body.error.param).toBe('maxTokens');
  expect((await call('POST', '/api/v1/embedding', { headers: key, body: { modelId: 'echo', texts: ['a', 'b'] } })).body.embeddings).toHaveLength(2);
  expect((await call('GET', '/api/v1/models', { headers: key })).body.data.map((m: any) => m.id)).toContain('echo');
  expect((await call('GET', '/api/v1/models/{model}', { headers: key, params: { model: 'echo.echo' } })).body.provider).toBe('echo');
  expect((await call('GET', '/api/v1/models/{model}', { headers: key, params: { model: 'nope' } })).status).toBe(404);
  expect((await call('GET', '/api/v1/models/provider/{provider}', { headers: key, params: { provider: 'ECHO' } })).body.data.map((m: any) => m.id)).toEqual(['echo']);
  expect((await call('GET', '/api/v1/models/provider/{provider}', { headers: key, params: { provider: 'nobody' } })).body.error.code).toBe('provider_not_found');

  const usage = await call('GET', '/api/v1/admin/usage', { headers: { 'x-api-key': ADMIN }, query: { startDate: '2023-01-01', endDate: '2023-01-31' } });
  expect([usage.body.start, usage.body.end]).toEqual(['2023-01-01T00:00:00.000Z', '2023-02-01T00:00:00.000Z']);
  expect((await call('GET', '/api/v1/admin/usage', { token: ADMIN, query: { endDate: 'soon' } })).body.error.param).toBe('endDate');
  expect((await call('GET', '/api/v1/admin/usage', { headers: key })).status).toBe(403);
});

test("Anthropic's Messages API answers as documented (x-api-key, Anthropic's error shape)", async () => {
  const key = { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' };
  const message = { model: 'echo', max_tokens: 16, messages: [{ role: 'user', content: 'hello messages' }] };
  const done = await call('POST', '/v1/messages', { headers: key, body: message });
  expect([done.body.type, done.body.content[0].text]).toEqual(['message', 'hello messages']);
  const streamed = await call('POST', '/v1/messages', { headers: key, body: { ...message, stream: true } });
  expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(streamed.text).toContain('event: message_stop');
  expect((await call('POST', '/v1/messages/count_tokens', { headers: key, body: { model: 'echo', messages: message.messages } })).body.input_tokens).toBeGreaterThan(0);
  // Every error in Anthropic's shape, validated against AnthropicError.
  expect((await call('POST', '/v1/messages', { headers: key, body: { ...message, max_tokens: undefined } })).body.error.type).toBe('invalid_request_error');
  expect((await call('POST', '/v1/messages', { headers: { 'x-api-key': 'sk-nope' }, body: message })).body.error.type).toBe('authentication_error');
  expect((await call('POST', '/v1/messages', { headers: key, body: { ...message, model: 'no-such-model' } })).body.error.type).toBe('not_found_error');
  expect((await call('POST', '/v1/messages/count_tokens', { body: { model: 'echo', messages: message.messages } })).status).toBe(401);
  expect((await call('POST', '/v1/messages/count_tokens', { headers: key, body: { model: 'echo' } })).body.type).toBe('error');
});

test('usage and metrics summary, for admins and key holders', async () => {
  // The previous test's requests were recorded (flushed every 20 ms).
  for (const token of [ADMIN, CLIENT_KEY]) {
    expect((await call('GET', '/v1/usage', { token })).status).toBe(200);
    expect((await call('GET', '/v1/metrics/summary', { token })).status).toBe(200);
  }
  const grouped = await call('GET', '/v1/usage', { token: ADMIN, query: { group_by: 'model', start: '2020-01-01', end: String(Date.now() + 60_000) } });
  expect(grouped.body.group_by).toBe('model');
  expect((await call('GET', '/v1/usage', { token: ADMIN, query: { group_by: 'planet' } })).body.error.param).toBe('group_by');
  expect((await call('GET', '/v1/usage', {})).status).toBe(401);
  expect((await call('GET', '/v1/metrics/summary', { token: await jwt({ roles: [] }) })).body.error.code).toBe('insufficient_permissions');
});

test('providers: every operation, as documented', async () => {
  const base = `http://127.0.0.1:${gw.ports.echo}/v1`;
  expect((await call('GET', '/v1/providers', { token: ADMIN })).body.data.map((p: any) => p.name)).toContain('echo');
  expect((await call('GET', '/v1/providers/{name}', { token: ADMIN, params: { name: 'echo' } })).body.source).toBe('config');
  expect((await call('GET', '/v1/providers/{name}', { token: ADMIN, params: { name: 'nope' } })).status).toBe(404);

  const spec = { name: 'docs-echo', type: 'openai-compatible', base_url: base, api_key: 'sk-docs-provider-secret', model_names: ['docs-model'] };
  const added = await call('POST', '/v1/providers', { token: ADMIN, body: spec });
  expect([added.status, added.text.includes('sk-docs-provider-secret')]).toEqual([201, false]);
  expect((await call('POST', '/v1/providers', { token: ADMIN, body: { ...spec, timeout_seconds: 30 } })).status).toBe(200);
  expect((await call('PUT', '/v1/providers/{name}', { token: ADMIN, params: { name: 'docs-echo' }, body: { ...spec, model_names: ['docs-2'] } })).body.models).toEqual(['docs-2']);
  expect((await call('PUT', '/v1/providers/{name}', { token: ADMIN, params: { name: 'docs-put' }, body: { ...spec, name: 'docs-put' } })).status).toBe(201);
  expect((await call('PUT', '/v1/providers/{name}', { token: ADMIN, params: { name: 'other' }, body: spec })).body.error.param).toBe('name');
  // LiteLLM's short form: no name (derived from the URL) and no type.
  const short = await call('POST', '/v1/providers', { token: ADMIN, body: { base_url: base, model_names: ['docs-short'] } });
  expect([short.status, short.body.type]).toEqual([201, 'openai-compatible']);
  expect((await call('DELETE', '/v1/providers/{name}', { token: ADMIN, params: { name: short.body.name } })).status).toBe(200);
  expect((await call('POST', '/v1/providers', { token: ADMIN, body: { ...spec, colour: 'red' } })).body.error.code).toBe('invalid_provider');
  expect((await call('POST', '/v1/providers', { token: ADMIN, body: { ...spec, name: 'echo' } })).body.error.code).toBe('provider_conflict');
  expect((await call('POST', '/v1/providers', { token: TEAM_ADMIN, body: spec })).body.error.code).toBe('insufficient_permissions');

  expect((await call('DELETE', '/v1/providers/{name}', { token: ADMIN, params: { name: 'docs-echo' } })).body.deleted).toBe(true);
  expect((await call('DELETE', '/v1/providers/{name}', { token: ADMIN, params: { name: 'docs-put' } })).status).toBe(200);
  expect((await call('DELETE', '/v1/providers/{name}', { token: ADMIN, params: { name: 'docs-echo' } })).status).toBe(404);
  expect((await call('DELETE', '/v1/providers/{name}', { token: ADMIN, params: { name: 'echo' } })).status).toBe(409);
});

test('MCP servers: every operation, as documented', async () => {
  const spec = { name: 'docs-mcp', url: 'http://127.0.0.1:9/mcp', credential: 'docs-mcp-secret', headers: { 'x-team': 'docs' } };
  const added = await call('POST', '/v1/mcp/servers', { token: ADMIN, body: spec });
  expect([added.status, added.text.includes('docs-mcp-secret'), added.body.has_credential]).toEqual([201, false, true]);
  expect((await call('POST', '/v1/mcp/servers', { token: ADMIN, body: spec })).status).toBe(200);
  expect((await call('GET', '/v1/mcp/servers', { token: ADMIN })).body.data.map((s: any) => s.name)).toContain('docs-mcp');
  expect((await call('GET', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-mcp' } })).body.header_names).toEqual(['x-team']);
  expect((await call('GET', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'nope' } })).status).toBe(404);
  expect((await call('PUT', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-put' }, body: { url: 'http://127.0.0.1:9/mcp', transport: 'sse' } })).status).toBe(201);
  expect((await call('PUT', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'other' }, body: spec })).body.error.param).toBe('name');
  const patched = await call('PATCH', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-mcp' }, body: { timeout_seconds: 9 } });
  expect([patched.body.timeout_seconds, patched.body.has_credential]).toEqual([9, true]);
  expect((await call('PATCH', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'nope' }, body: { timeout_seconds: 9 } })).status).toBe(404);
  expect((await call('POST', '/v1/mcp/servers', { token: ADMIN, body: { ...spec, name: 'Bad__Name' } })).body.error).toMatchObject({ code: 'invalid_mcp_server', param: 'name' });
  expect((await call('POST', '/v1/mcp/servers', { token: ADMIN, body: { ...spec, colour: 'red' } })).body.error.code).toBe('invalid_mcp_server');
  expect((await call('POST', '/v1/mcp/servers', { token: TEAM_ADMIN, body: spec })).body.error.code).toBe('insufficient_permissions');
  expect((await call('DELETE', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-mcp' } })).body.deleted).toBe(true);
  expect((await call('DELETE', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-put' } })).status).toBe(200);
  expect((await call('DELETE', '/v1/mcp/servers/{name}', { token: ADMIN, params: { name: 'docs-mcp' } })).status).toBe(404);
  const rule = await call('POST', '/v1/mcp/access', { token: ADMIN, body: { teams: ['docs'], servers: ['docs-mcp'], tools: ['docs-mcp__read_*'], description: 'docs readers' } });
  expect(rule.status).toBe(201);
  expect((await call('GET', '/v1/mcp/access', { token: ADMIN })).body.data.map((r: any) => r.id)).toContain(rule.body.id);
  expect((await call('GET', '/v1/mcp/access/{id}', { token: ADMIN, params: { id: rule.body.id } })).body.teams).toEqual(['docs']);
  expect((await call('PUT', '/v1/mcp/access/{id}', { token: ADMIN, params: { id: rule.body.id }, body: { teams: ['docs'] } })).body.tools).toEqual(['*']);
  expect((await call('POST', '/v1/mcp/access', { token: TEAM_ADMIN, body: { teams: ['docs'] } })).body.error.code).toBe('insufficient_permissions');
  expect((await call('DELETE', '/v1/mcp/access/{id}', { token: ADMIN, params: { id: rule.body.id } })).body.deleted).toBe(true);
});

test('security settings and the audit log', async () => {
  const admin = await jwt({ roles: ['admin'] });
  const settings = await call('GET', '/v1/security/config', { token: admin });
  expect(typeof settings.body.audit_logging_enabled).toBe('boolean');
  const changed = await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: true } });
  expect(changed.body.audit_logging_enabled).toBe(true);
  expect((await call('PUT', '/v1/security/config', { token: ADMIN, body: { audit_logging_enabled: 'yes' } })).body.error.code).toBe('invalid_settings');
  expect((await call('PUT', '/v1/security/config', { token: ADMIN, body: { colour: 'red' } })).body.error.param).toBe('colour');
  expect((await call('PUT', '/v1/security/config', { token: TEAM_ADMIN, body: { data_isolation_enabled: false } })).status).toBe(403);
  expect((await call('GET', '/v1/security/config', { token: CLIENT_KEY })).status).toBe(403);

  // The change above left a record.
  const records = await call('GET', '/v1/audit', { token: ADMIN, query: { action: 'security_config.changed', limit: '10' } });
  expect(records.body.data.length).toBeGreaterThan(0);
  expect((await call('GET', '/v1/audit', { token: ADMIN })).status).toBe(200);
  expect((await call('GET', '/v1/audit', { token: ADMIN, query: { limit: '0' } })).body.error.param).toBe('limit');
  expect((await call('GET', '/v1/audit', { token: CLIENT_KEY })).status).toBe(403);
  expect((await call('GET', '/v1/audit', {})).status).toBe(401);
});

test('health, metrics and the document itself', async () => {
  expect((await call('GET', '/health')).body.envoy.state).toBe('live');
  expect((await call('GET', '/metrics')).text).toContain('# TYPE');
  const served = await call('GET', '/openapi.json');
  expect(served.body).toEqual(doc);
});

test('/docs is Swagger UI from bundled files, under a Content-Security-Policy without inline script', async () => {
  const page = await call('GET', '/docs');
  const csp = page.headers.get('content-security-policy') ?? '';
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values] as [string, string[]]));
  expect(directives.get('script-src')).toEqual(["'self'"]);
  expect(directives.get('default-src')).toEqual(["'none'"]);
  expect(csp).not.toMatch(/unsafe-eval|https?:/);
  // No inline script: every <script> loads a file, and no handler attributes.
  const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  expect(scripts.length).toBeGreaterThan(1);
  for (const [, attrs, inline] of scripts) {
    expect(attrs).toMatch(/\bsrc="\/docs\/[\w.-]+"/);
    expect(inline.trim()).toBe('');
  }
  expect(page.text).not.toMatch(/\son\w+=|javascript:|https?:\/\//i);

  // Every file the page loads is served from the gateway (swagger-ui-dist, then our start script).
  const files = [...page.text.matchAll(/(?:src|href)="(\/docs\/[\w.-]+)"/g)].map((m) => m[1]);
  expect(files).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js']));
  for (const file of files) {
    const asset = await call('GET', '/docs/{asset}', { params: { asset: file.slice('/docs/'.length) } });
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
  }
  const bundle = await fetch(`${gw.url}/docs/swagger-ui-bundle.js`);
  expect(await bundle.text()).toBe(fs.readFileSync(path.join(ROOT, 'node_modules/swagger-ui-dist/swagger-ui-bundle.js'), 'utf8'));
  const init = await (await fetch(`${gw.url}/docs/init.js`)).text();
  expect(init).toContain('SwaggerUIBundle(');
  expect(init).toContain("'../openapi.json'");
  expect((await call('GET', '/docs/{asset}', { params: { asset: 'secrets.txt' } })).status).toBe(404);
});

test('console: the page, a file of it, and its session, as documented', async () => {
  const page = await call('GET', '/console');
  const [, script] = /src="\/console\/([\w.-]+\.js)"/.exec(page.text)!;
  expect((await call('GET', '/console/{asset}', { params: { asset: script } })).status).toBe(200);
  expect((await call('GET', '/console/{asset}', { params: { asset: 'nothing.js' } })).status).toBe(404);
  const opened = await call('POST', '/console/session', { token: ADMIN });
  expect(opened.status).toBe(201);
  expect((await call('POST', '/console/session', { token: CLIENT_KEY })).status).toBe(403);
  const session = { cookie: opened.headers.get('set-cookie')!.split(';')[0], 'x-gateway-console': '1' };
  expect((await call('GET', '/console/session', { headers: session })).body.identity).toBe('root');
  expect((await call('DELETE', '/console/session', { headers: session })).body.signed_out).toBe(true);
  expect((await call('GET', '/console/session', { headers: session })).body.error.code).toBe('invalid_session');
});

test('every admin operation of the document (and each OpenAI-compatible one the echo provider offers) was called with a success answer', () => {
  const missing: string[] = [];
  for (const [p, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      if (op.tags[0] === 'LangChain' && p !== '/v1/langchain/chat/completions' && p !== '/v1/langchain/models') continue;
      if (['/v1/completions', '/v1/responses'].includes(p)) continue; // The echo demo provider offers neither.
      const ok = [...checked].some((c) => c.startsWith(`${method.toUpperCase()} ${p} 2`));
      if (!ok) missing.push(`${method.toUpperCase()} ${p}`);
    }
  }
  expect(missing).toEqual([]);
});
