import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateDevCerts, type CertPair, type DevCerts } from '../../src/identity/dev-certs';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { chat, CLIENT_KEY, ROOT, startGateway, type RunningGateway } from '../helpers/gateway';
import { mtlsPost } from '../helpers/mtls';
import { freePorts } from '../helpers/ports';

/**
 * A plugin written outside the repository, using only the package's exports (`llm-gateway`,
 * resolved from its own node_modules as an installed package would be), does what the built-in
 * quota and mtls-identity plugins do through the public capabilities: it maps verified client
 * certificates to principals of its own and sets a per-caller request quota that Envoy's rate
 * limit filter enforces, through real Envoy.
 */

const PLUGIN = `
const { definePlugin, GatewayError } = require('llm-gateway');

module.exports = definePlugin({
  name: 'agent-policy',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['teams'],
    properties: {
      teams: { type: 'object', additionalProperties: { type: 'string' } },
      requests_per_minute: { type: 'integer', minimum: 1, default: 2 },
    },
  },
  create(options) {
    return {
      // A custom identity mapping: the certificate's SPIFFE id picks a team.
      onRequestHeaders(ctx) {
        const cert = ctx.request.clientCertificate;
        if (ctx.principal || !cert) return;
        const team = Object.prototype.hasOwnProperty.call(options.teams, cert.identity) ? options.teams[cert.identity] : undefined;
        if (!team) throw new GatewayError(403, 'agent_unknown', 'This agent is not registered.');
        ctx.principal = { id: 'agent:' + cert.identity.split('/').pop(), kind: 'mtls', team, identity: cert.identity };
      },
      // A per-caller request quota, counted by Envoy's rate limit filter and the RateLimitService.
      onRequest(ctx) {
        const p = ctx.principal;
        if (p) ctx.rateLimits.setQuota({ principal: p.id, limit: options.requests_per_minute, windowSeconds: 60 });
      },
    };
  },
});
`;

const AGENT_A = 'spiffe://example.org/agent/a';
const AGENT_B = 'spiffe://example.org/agent/b';
const STRANGER = 'spiffe://example.org/agent/x';
const OTHER_KEY = 'sk-test-other-key';

let certs: DevCerts;
let fake: FakeOpenAI;
let gw: RunningGateway;
let mtlsPort: number;

beforeAll(async () => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-external-plugin-'));
  // The package as a dependency of the plugin's own project.
  fs.mkdirSync(path.join(outside, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(outside, 'node_modules', 'llm-gateway'), 'dir');
  fs.writeFileSync(path.join(outside, 'agent-policy.js'), PLUGIN);
  certs = generateDevCerts({ dir: path.join(outside, 'certs'), clients: [AGENT_A, AGENT_B, STRANGER] });
  fake = await startFakeOpenAI();
  [mtlsPort] = await freePorts(1);
  gw = await startGateway({
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
      keys: { entries: { [CLIENT_KEY]: { name: 'one' }, [OTHER_KEY]: { name: 'two' } } },
      mtls: {
        enabled: true,
        listen_address: '127.0.0.1',
        port: mtlsPort,
        server_cert: certs.server.cert,
        server_key: certs.server.key,
        client_ca: certs.ca.cert,
      },
      plugins: [
        { use: path.join(outside, 'agent-policy.js'), options: { teams: { [AGENT_A]: 'red', [AGENT_B]: 'blue' }, requests_per_minute: 2 } },
        { use: 'virtual-keys' },
        { use: 'model-router' },
        { use: 'usage-recorder' },
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
const client = (id: string): CertPair => certs.clients.find((c) => c.id === id)!;

const mtlsChat = (cert: CertPair) => mtlsPost({ port: mtlsPort, ca: certs.ca.cert, cert, body: JSON.stringify(body) });

test('the custom identity mapping admits registered agents and refuses others in its own words', async () => {
  const before = fake.requests.length;
  const ok = await mtlsChat(client(AGENT_A));
  expect(ok.status).toBe(200);
  expect(fake.requests.length).toBe(before + 1);
  // The certificate details never reach the provider.
  expect(fake.requests.at(-1)!.headers['x-forwarded-client-cert']).toBeUndefined();

  const refused = await mtlsChat(client(STRANGER));
  expect(refused.status).toBe(403);
  expect(refused.body.error).toMatchObject({ code: 'agent_unknown', type: 'permission_error' });
  expect(fake.requests.length).toBe(before + 1);
});

test('the quota set through the rate limit capability is enforced per key by Envoy', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await chat(gw.url, body)).status);
  expect(statuses).toEqual([200, 200, 429]);
  const over = await chat(gw.url, body);
  expect(over.status).toBe(429);
  expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
  expect((await over.json()).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });

  // Counted per principal: another key has its own quota, and the remaining count comes back in
  // OpenAI's header names.
  const other = await chat(gw.url, body, { authorization: `Bearer ${OTHER_KEY}` });
  expect(other.status).toBe(200);
  expect(other.headers.get('x-ratelimit-limit-requests')).toBe('2');
  expect(other.headers.get('x-ratelimit-remaining-requests')).toBe('1');
  expect(other.headers.get('x-gateway-ratelimit-limit-requests')).toBeNull();
});

test('agents mapped by the plugin get the quota too, each on its own counter', async () => {
  const b = [await mtlsChat(client(AGENT_B)), await mtlsChat(client(AGENT_B)), await mtlsChat(client(AGENT_B))].map((r) => r.status);
  expect(b).toEqual([200, 200, 429]);
  // Agent a used one request in the first test: one left.
  expect((await mtlsChat(client(AGENT_A))).status).toBe(200);
  expect((await mtlsChat(client(AGENT_A))).status).toBe(429);
});
