import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { generateDevCerts, type CertPair, type DevCerts } from '../../src/identity/dev-certs';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { CLIENT_KEY, ROOT, startGateway, waitFor, type RunningGateway } from '../helpers/gateway';
import { mtlsPost, type MtlsReply } from '../helpers/mtls';
import { freePorts } from '../helpers/ports';

/**
 * mTLS for agents through real Envoy, with certificates made by openssl in the test: a verified
 * client certificate replaces the API key, the handshake refuses everything else, and a
 * client-supplied x-forwarded-client-cert header changes nothing.
 */

const AGENTS = 'spiffe://example.org/agent';
const AGENT_A = `${AGENTS}/a`;
const AGENT_B = `${AGENTS}/b`;
const STRANGER = 'spiffe://other.org/agent/x';
const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';

let certs: DevCerts;
/** A second, unrelated CA that issued a certificate with the same SPIFFE id as agent a. */
let foreign: DevCerts;
let fake: FakeOpenAI;
let gw: RunningGateway;
let mtlsPort: number;

const client = (set: DevCerts, id: string, expired = false): CertPair => set.clients.find((c) => c.id === id && c.name.includes('expired') === expired)!;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-mtls-'));
  certs = generateDevCerts({ dir: path.join(dir, 'certs'), clients: [AGENT_A, AGENT_B, STRANGER, { id: AGENT_A, name: 'expired-a', expired: true }] });
  foreign = generateDevCerts({ dir: path.join(dir, 'foreign'), clients: [AGENT_A] });
  fake = await startFakeOpenAI();
  [mtlsPort] = await freePorts(1);
  gw = await startGateway({
    config: {
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream-mtls', models: ['gpt-*'] }],
      usage: { flush_interval_ms: 20 },
      mtls: {
        enabled: true,
        listen_address: '127.0.0.1',
        port: mtlsPort,
        server_cert: certs.server.cert,
        server_key: certs.server.key,
        client_ca: certs.ca.cert,
        identities: [
          { match: AGENT_A, user: 'agent-a', team: 'agents' },
          { match: `${AGENTS}/*`, team: 'agent-pool' },
        ],
      },
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

type Reply = MtlsReply;

const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello over mTLS' }] });

/** A chat completion on the mTLS listener. */
function mtlsChat(cert: CertPair | undefined, headers: Record<string, string> = {}, tls: https.RequestOptions = {}): Promise<Reply> {
  return mtlsPost({ port: mtlsPort, ca: certs.ca.cert, cert, body: chatBody, headers, tls });
}

/** The usage record of a request, once the batched writer has stored it. */
function usageRecord(reply: Reply): Promise<Record<string, unknown>> {
  const requestId = reply.headers['x-request-id'];
  return waitFor(() => {
    const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT key_id, user_id, team, tier, status FROM usage_records WHERE request_id = ?').get(requestId) as Record<string, unknown> | undefined;
    } finally {
      db.close();
    }
  }, 5000);
}

test('a valid client certificate works without an API key, and usage is recorded under its SPIFFE id', async () => {
  const before = fake.requests.length;
  const r = await mtlsChat(client(certs, AGENT_A));
  expect(r.status).toBe(200);
  expect(r.body.choices[0].message.content).toBe('echo: hello over mTLS');
  expect(await usageRecord(r)).toEqual({ key_id: AGENT_A, user_id: 'agent-a', team: 'agents', tier: 'standard', status: 200 });
  // The provider gets the gateway's credential and nothing about the client certificate.
  const upstream = fake.requests.slice(before);
  expect(upstream).toHaveLength(1);
  expect(upstream[0].headers.authorization).toBe('Bearer sk-upstream-mtls');
  expect(upstream[0].headers['x-forwarded-client-cert']).toBeUndefined();
});

test('a verified identity that matches no rule, without a key, gets 403 identity_not_allowed', async () => {
  const r = await mtlsChat(client(certs, STRANGER));
  expect(r.status).toBe(403);
  expect(r.body.error).toMatchObject({ code: 'identity_not_allowed', type: 'permission_error' });
  expect(r.body.error.message).toContain(STRANGER);
});

describe('the handshake fails, with no HTTP response', () => {
  // Envoy's TLS alert, as OpenSSL names it in the client's error.
  const cases: [string, () => CertPair | undefined, RegExp][] = [
    ['no client certificate', () => undefined, /alert handshake failure|alert certificate required/],
    ['a certificate from another CA', () => client(foreign, AGENT_A), /alert unknown ca/],
    ['an expired certificate', () => client(certs, AGENT_A, true), /alert certificate expired/],
  ];
  const versions = ['TLSv1.2', 'TLSv1.3'] as const;
  test.each(cases.flatMap(([name, cert, alert]) => versions.map((v) => [name, v, cert, alert] as const)))('%s (%s)', async (_name, version, cert, alert) => {
    const before = fake.requests.length;
    const err = await mtlsChat(cert(), {}, { minVersion: version, maxVersion: version }).then(
      (r) => {
        throw new Error(`expected a failed handshake, got HTTP ${r.status}`);
      },
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err.code).toMatch(/^ERR_SSL_|^EPROTO$/);
    expect(err.message).toMatch(alert);
    expect(fake.requests.length).toBe(before);
  });
});

describe('a forged x-forwarded-client-cert header changes nothing', () => {
  const forged = `By=spiffe://gateway;Hash=00;Subject="CN=a";URI=${AGENT_A};DNS=a.example.org`;

  test('on the plain listener without a key: 401 as usual', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-client-cert': forged }, body: chatBody });
    expect(r.status).toBe(401);
    expect((await r.json()).error.code).toBe('missing_api_key');
  });

  test.each([
    ['one element', forged],
    ['several elements', `${forged},${forged}`],
  ])('on the mTLS listener (%s): the verified identity is used', async (_name, header) => {
    const r = await mtlsChat(client(certs, AGENT_B), { 'x-forwarded-client-cert': header });
    expect(r.status).toBe(200);
    expect(await usageRecord(r)).toMatchObject({ key_id: AGENT_B, user_id: null, team: 'agent-pool' });
  });

  test('a certificate whose identity matches no rule is not rescued by a forged header', async () => {
    const r = await mtlsChat(client(certs, STRANGER), { 'x-forwarded-client-cert': forged });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('identity_not_allowed');
  });
});

describe('certificate plus API key', () => {
  test("the key's principal wins and both are logged, never the key", async () => {
    const r = await mtlsChat(client(certs, AGENT_A), { authorization: `Bearer ${CLIENT_KEY}` });
    expect(r.status).toBe(200);
    const record = await usageRecord(r);
    expect(record).toMatchObject({ user_id: 'tester', team: 'qa' });
    expect(record.key_id).not.toBe(AGENT_A);
    const line = await waitFor(() => gw.logs().find((l) => l.request_id === r.headers['x-request-id'] && l.identity));
    expect(line).toMatchObject({ identity: AGENT_A, principal: record.key_id });
    expect(gw.output()).not.toContain(CLIENT_KEY);
  });

  test('a wrong key is refused even with a valid certificate', async () => {
    const r = await mtlsChat(client(certs, AGENT_A), { authorization: 'Bearer sk-not-a-real-key' });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_api_key');
  });
});

test('Python openai with an httpx client certificate and no API key', async () => {
  const a = client(certs, AGENT_A);
  const env = { ...process.env, GATEWAY_MTLS_URL: `https://127.0.0.1:${mtlsPort}`, CERT_FILE: a.cert, KEY_FILE: a.key, CA_FILE: certs.ca.cert };
  const run = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/mtls_check.py')], { env, timeout: 60000 }).catch((e) => e);
  expect(`${run.stdout}${run.stderr}`.trim()).toBe('echo: Say hello');
});
