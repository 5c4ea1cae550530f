import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { generateDevCerts, type DevCerts } from '../../src/identity/dev-certs';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { connectMcp, mtlsFetch, type GatewayMcpClient } from '../helpers/mcp-client';
import { startUpstreamMcp, type UpstreamMcp } from '../helpers/mcp-upstream';
import { freePorts } from '../helpers/ports';

/**
 * MCP access rules changed at run time (/v1/mcp/access) through real Envoy, with the official
 * MCP SDK as client: a key's, a team's and an identity's rules hide and refuse tools at once,
 * survive a restart on the same store, and only an admin of every team may change them. Also:
 * a session id the gateway does not know (a restart, another replica) is answered 404.
 */

const ADMIN = 'sk-mcpacc-admin-0123456789';
const TEAM_ADMIN = 'sk-mcpacc-lead-0123456789';
const OPS_KEY = 'sk-mcpacc-ops-0123456789';
const GUEST_KEY = 'sk-mcpacc-guest-0123456789';
const AGENT = 'spiffe://example.org/agent/acc';

let weather: UpstreamMcp;
let files: UpstreamMcp;
let certs: DevCerts;
let dataDir: string;
let gw: RunningGateway;
let ports: { mcp: number; mtls: number };
const open: GatewayMcpClient[] = [];

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

function config(p = ports) {
  return {
    store: { data_dir: dataDir },
    keys: {
      entries: {
        [OPS_KEY]: { name: 'ops', team: 'ops' },
        [GUEST_KEY]: { name: 'guest', team: 'guests' },
        [TEAM_ADMIN]: { user: 'lead', team: 'guests', roles: ['admin', 'completion'] },
      },
      admin: [{ key: ADMIN, id: 'root' }],
    },
    plugins: testPlugins(),
    mtls: {
      enabled: true,
      listen_address: '127.0.0.1',
      port: p.mtls,
      server_cert: certs.server.cert,
      server_key: certs.server.key,
      client_ca: certs.ca.cert,
      identities: [{ match: AGENT, team: 'agents' }],
    },
    mcp: {
      enabled: true,
      port: p.mcp,
      servers: [
        { name: 'weather', url: weather.url, timeout_seconds: 5 },
        { name: 'files', url: files.url, timeout_seconds: 5 },
      ],
      // The configured rule: ops may use everything. Everyone else only what /v1/mcp/access adds.
      access: [{ teams: ['ops'] }],
    },
  };
}

// The same ports on a restart, so that a client of the old process reaches the new one.
const start = (again?: RunningGateway) => startGateway({ config: config(), ports: again?.ports });

async function api(method: string, p: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const connect = async (key: string) => {
  const c = await connectMcp(gw.url, { key });
  open.push(c);
  return c;
};
const names = async (c: GatewayMcpClient) => (await c.client.listTools()).tools.map((t) => t.name).sort();

beforeAll(async () => {
  weather = await startUpstreamMcp((server, record) => {
    for (const tool of ['forecast', 'alerts']) {
      server.registerTool(tool, { inputSchema: { city: z.string() } }, async ({ city }) => {
        record(tool, { city });
        return { content: [{ type: 'text', text: `${tool} for ${city}` }] };
      });
    }
  });
  files = await startUpstreamMcp((server, record) => {
    for (const tool of ['read_file', 'delete_file']) {
      server.registerTool(tool, { inputSchema: { path: z.string() } }, async ({ path: p }) => {
        record(tool, { path: p });
        return { content: [{ type: 'text', text: `${tool} ${p}` }] };
      });
    }
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-mcp-access-'));
  dataDir = path.join(dir, 'data');
  certs = generateDevCerts({ dir: path.join(dir, 'certs'), clients: [AGENT] });
  const [mcp, mtls] = await freePorts(2);
  ports = { mcp, mtls };
  gw = await start();
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await gw?.stop();
  await Promise.all([weather?.close(), files?.close()]);
});

let botKey: string;
let botRule: string;

test("a key's rule set through the admin API hides and refuses tools at once, in an open session", async () => {
  const created = await api('POST', '/v1/keys', { name: 'bot', team: 'bots' });
  expect(created.status).toBe(201);
  botKey = created.body.key;
  const c = await connect(botKey);
  // No rule names the bot yet (the configured one is for ops): it sees nothing.
  expect(await names(c)).toEqual([]);
  await expect(c.client.callTool({ name: 'weather__forecast', arguments: { city: 'Oslo' } })).rejects.toMatchObject({ code: -32003, data: { code: 'mcp_server_not_allowed' } });

  const rule = await api('POST', '/v1/mcp/access', { keys: [created.body.id], servers: ['weather'], tools: ['weather__forecast'], description: 'the bot forecasts' });
  expect(rule.status).toBe(201);
  expect(rule.body).toMatchObject({ id: expect.stringMatching(/^mcpa_/), keys: [created.body.id], servers: ['weather'], tools: ['weather__forecast'], source: 'api' });
  botRule = rule.body.id;

  // The same session, no reconnect: the rule is in force.
  expect(await names(c)).toEqual(['weather__forecast']);
  expect(text(await c.client.callTool({ name: 'weather__forecast', arguments: { city: 'Oslo' } }))).toBe('forecast for Oslo');
  await expect(c.client.callTool({ name: 'weather__alerts', arguments: { city: 'Oslo' } })).rejects.toMatchObject({ code: -32003, data: { code: 'mcp_tool_not_allowed' } });
  await expect(c.client.callTool({ name: 'files__read_file', arguments: { path: 'x' } })).rejects.toMatchObject({ data: { code: 'mcp_server_not_allowed' } });
  expect(weather.calls.filter((x) => x.tool === 'alerts')).toEqual([]);

  // Widened with PUT: at once again.
  const changed = await api('PUT', `/v1/mcp/access/${botRule}`, { keys: [created.body.id], servers: ['weather'], tools: ['weather__*'] });
  expect(changed.status).toBe(200);
  expect(await names(c)).toEqual(['weather__alerts', 'weather__forecast']);
  expect(text(await c.client.callTool({ name: 'weather__alerts', arguments: { city: 'Oslo' } }))).toBe('alerts for Oslo');

  const audit = await api('GET', '/v1/audit?action=mcp_access.added');
  expect(audit.body.data.find((r: { target: string }) => r.target === botRule)).toMatchObject({ outcome: 'success', actor: { key_id: 'root' } });
  expect((await api('GET', '/v1/audit?action=mcp_access.changed')).body.data.some((r: { target: string }) => r.target === botRule)).toBe(true);
});

test("a team's and an mTLS identity's rules through the admin API", async () => {
  const guest = await connect(GUEST_KEY);
  expect(await names(guest)).toEqual([]);
  const team = await api('POST', '/v1/mcp/access', { teams: ['guests'], servers: ['files'], tools: ['files__read_*'] });
  expect(team.status).toBe(201);
  expect(await names(guest)).toEqual(['files__read_file']);
  expect(text(await guest.client.callTool({ name: 'files__read_file', arguments: { path: 'a' } }))).toBe('read_file a');
  await expect(guest.client.callTool({ name: 'files__delete_file', arguments: { path: 'a' } })).rejects.toMatchObject({ data: { code: 'mcp_tool_not_allowed' } });
  expect(files.calls.some((x) => x.tool === 'delete_file')).toBe(false);

  const agent = certs.clients.find((x) => x.id === AGENT)!;
  const c = await connectMcp(`https://127.0.0.1:${ports.mtls}`, { fetch: mtlsFetch(certs.ca.cert, agent) });
  open.push(c);
  expect(await names(c)).toEqual([]);
  const id = await api('POST', '/v1/mcp/access', { identities: ['spiffe://example.org/agent/*'], servers: ['files', 'weather'], tools: ['files__delete_file'] });
  expect(id.status).toBe(201);
  expect(await names(c)).toEqual(['files__delete_file']);
  expect(text(await c.client.callTool({ name: 'files__delete_file', arguments: { path: 'b' } }))).toBe('delete_file b');
  // The identity's team (agents) is not the guests': the team rule does not reach it.
  await expect(c.client.callTool({ name: 'files__read_file', arguments: { path: 'b' } })).rejects.toMatchObject({ data: { code: 'mcp_tool_not_allowed' } });

  // Removing the identity's rule takes its tools away at once.
  expect((await api('DELETE', `/v1/mcp/access/${id.body.id}`)).body).toEqual({ id: id.body.id, deleted: true });
  expect(await names(c)).toEqual([]);
  expect((await api('GET', '/v1/audit?action=mcp_access.removed')).body.data.some((r: { target: string }) => r.target === id.body.id)).toBe(true);
});

test('only an admin of every team changes rules; bad rules are refused with the field named', async () => {
  // A team admin could otherwise grant its own team every server.
  const denied = await api('POST', '/v1/mcp/access', { teams: ['guests'] }, TEAM_ADMIN);
  expect(denied.status).toBe(403);
  expect(denied.body.error.code).toBe('insufficient_permissions');
  expect((await api('PUT', `/v1/mcp/access/${botRule}`, { keys: ['*'] }, TEAM_ADMIN)).status).toBe(403);
  expect((await api('DELETE', `/v1/mcp/access/${botRule}`, undefined, TEAM_ADMIN)).status).toBe(403);
  expect((await api('GET', '/v1/mcp/access', undefined, TEAM_ADMIN)).status).toBe(200);
  expect((await api('GET', '/v1/mcp/access', undefined, GUEST_KEY)).status).toBe(403);
  expect((await api('GET', `/v1/mcp/access/${botRule}`)).body.tools).toEqual(['weather__*']);

  const list = (await api('GET', '/v1/mcp/access')).body.data as { id: string; source: string }[];
  expect(list[0]).toMatchObject({ id: 'config-0', teams: ['ops'], servers: ['*'], tools: ['*'], source: 'config' });
  expect(list.filter((r) => r.source === 'api').length).toBe(2);

  const bad = async (body: unknown, param: string | null) => {
    const r = await api('POST', '/v1/mcp/access', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_mcp_access_rule', param });
  };
  await bad({ teams: 'guests' }, 'teams');
  await bad({ teams: [] }, 'teams');
  await bad({ tools: ['a b'] }, 'tools');
  await bad({ servers: ['*'], owner: 'x' }, 'owner');
  await bad('{"__proto__": {"servers": ["*"]}}', '__proto__');
  await bad([], null);
  expect((await api('PUT', '/v1/mcp/access/config-0', { teams: ['guests'] })).body.error.code).toBe('mcp_access_rule_conflict');
  expect((await api('DELETE', '/v1/mcp/access/config-0')).status).toBe(409);
  expect((await api('PUT', '/v1/mcp/access/mcpa_nothing', { teams: ['guests'] })).body.error.code).toBe('mcp_access_rule_not_found');
  expect((await api('DELETE', '/v1/mcp/access/mcpa_nothing')).status).toBe(404);
  expect((await api('GET', '/v1/mcp/access/__proto__')).status).toBe(404);
  expect((await api('GET', '/v1/mcp/access')).body.data.length).toBe(3);
});

test('a session id the gateway does not know gets 404 (the SDK client re-initializes)', async () => {
  const res = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPS_KEY}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'bm90LWEtcmVhbC1zZXNzaW9u' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
  });
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32001, data: { code: 'mcp_session_not_found' } } });
});

test('after a restart on the same store the run-time rules are in force; old sessions get 404', async () => {
  const before = await connect(botKey);
  const staleId = before.transport.sessionId!;
  expect(staleId).toBeTruthy();
  await gw.stop();
  gw = await start(gw);

  // The old session died with the process: the spec's answer, 404, which the SDK surfaces.
  await expect(before.client.listTools()).rejects.toMatchObject({ code: 404 });

  const bot = await connect(botKey);
  expect(await names(bot)).toEqual(['weather__alerts', 'weather__forecast']);
  await expect(bot.client.callTool({ name: 'files__read_file', arguments: { path: 'x' } })).rejects.toMatchObject({ data: { code: 'mcp_server_not_allowed' } });
  const guest = await connect(GUEST_KEY);
  expect(await names(guest)).toEqual(['files__read_file']);
  // The configuration's rule is still there too, unchanged.
  const ops = await connect(OPS_KEY);
  expect(await names(ops)).toEqual(['files__delete_file', 'files__read_file', 'weather__alerts', 'weather__forecast']);
  expect((await api('GET', '/v1/mcp/access')).body.data.map((r: { source: string }) => r.source)).toEqual(['config', 'api', 'api']);
}, 60_000);

test('another replica on the same store follows a change within its poll', async () => {
  const [mcp, mtls] = await freePorts(2);
  const replica = await startGateway({ config: config({ mcp, mtls }) });
  try {
    const c = await connectMcp(replica.url, { key: GUEST_KEY });
    open.push(c);
    expect(await names(c)).toEqual(['files__read_file']);
    const rule = ((await api('GET', '/v1/mcp/access')).body.data as { id: string; teams?: string[] }[]).find((r) => r.teams?.includes('guests'))!;
    expect((await api('PUT', `/v1/mcp/access/${rule.id}`, { teams: ['guests'], servers: ['files'], tools: ['files__*'] })).status).toBe(200);
    // Changed through the first process; the replica reads the store every 2 s.
    const seen = await waitFor(async () => {
      const now = await names(c);
      return now.includes('files__delete_file') ? now : undefined;
    }, 6000, 200);
    expect(seen).toEqual(['files__delete_file', 'files__read_file']);
  } finally {
    await replica.stop();
  }
}, 60_000);
