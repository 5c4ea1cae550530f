import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ElicitRequestSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { generateDevCerts, type DevCerts } from '../../src/identity/dev-certs';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { connectMcp, mtlsFetch, type GatewayMcpClient } from '../helpers/mcp-client';
import { startUpstreamMcp, type UpstreamMcp } from '../helpers/mcp-upstream';
import { freePorts } from '../helpers/ports';

/**
 * The MCP gateway through real Envoy: the official MCP SDK as the client and as two upstream
 * servers started here (plus an older SSE one added live through the admin API).
 */

const QA_KEY = 'sk-mcp-qa-0123456789';
const OPS_KEY = 'sk-mcp-ops-0123456789';
const NOBODY_KEY = 'sk-mcp-nobody-0123456789';
const ADMIN = 'sk-mcp-admin-0123456789';
const WEATHER_TOKEN = 'weather-upstream-secret-token';
const AGENT = 'spiffe://example.org/agent/mcp';

let weather: UpstreamMcp;
let files: UpstreamMcp;
let legacy: UpstreamMcp;
let gw: RunningGateway;
let certs: DevCerts;
let mtlsPort: number;
const open: GatewayMcpClient[] = [];

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

beforeAll(async () => {
  weather = await startUpstreamMcp((server, record) => {
    server.registerTool('forecast', { description: 'Forecast for a city', inputSchema: { city: z.string() } }, async ({ city }) => {
      record('forecast', { city });
      return { content: [{ type: 'text', text: `sunny in ${city}` }] };
    });
    server.registerTool('contact', { description: 'Who to call', inputSchema: {} }, async () => {
      record('contact', {});
      return { content: [{ type: 'text', text: 'write to alice@example.com for details' }] };
    });
    server.registerTool('confirm', { description: 'Asks the user first', inputSchema: { what: z.string() } }, async ({ what }, extra) => {
      const answer = await server.server.elicitInput(
        { message: `Really ${what}?`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
        { relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: `${answer.action}:${JSON.stringify(answer.content)}` }] };
    });
    server.registerTool('slow', { description: 'Reports progress and logs', inputSchema: {} }, async (_args, extra) => {
      const token = extra._meta?.progressToken;
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'jobs', data: 'working' } });
      if (token !== undefined) {
        for (const progress of [1, 2]) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 2 } });
      }
      return { content: [{ type: 'text', text: 'done' }] };
    });
    server.registerPrompt('greeting', { description: 'Greets', argsSchema: { name: z.string() } }, ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Hello ${name}` } }],
    }));
    server.registerResource('today', 'weather://today', { description: "Today's weather" }, async (uri) => ({ contents: [{ uri: uri.href, text: 'rain' }] }));
  });
  files = await startUpstreamMcp((server, record) => {
    server.registerTool('read_file', { inputSchema: { path: z.string() } }, async ({ path: p }) => {
      record('read_file', { path: p });
      return { content: [{ type: 'text', text: `contents of ${p}` }] };
    });
    server.registerTool('confirm', { description: 'Asks the user first', inputSchema: { what: z.string() } }, async ({ what }, extra) => {
      const answer = await server.server.elicitInput(
        { message: `Really ${what}?`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
        { relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: `${answer.action}:${JSON.stringify(answer.content)}` }] };
    });
    server.registerTool('classified', { inputSchema: {} }, async () => {
      record('classified', {});
      return { content: [{ type: 'text', text: 'the TOP-SECRET plans' }] };
    });
    server.registerTool('delete_file', { inputSchema: { path: z.string() } }, async ({ path: p }) => {
      record('delete_file', { path: p });
      return { content: [{ type: 'text', text: `deleted ${p}` }] };
    });
  });
  legacy = await startUpstreamMcp(
    (server, record) => {
      server.registerTool('ping_legacy', { inputSchema: {} }, async () => {
        record('ping_legacy', {});
        return { content: [{ type: 'text', text: 'pong from sse' }] };
      });
    },
    { transport: 'sse' },
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-mcp-'));
  certs = generateDevCerts({ dir: path.join(dir, 'certs'), clients: [AGENT] });
  const [mcpPort, mtls] = await freePorts(2);
  mtlsPort = mtls;
  gw = await startGateway({
    env: { WEATHER_MCP_TOKEN: WEATHER_TOKEN },
    config: {
      keys: {
        entries: { [QA_KEY]: { name: 'qa', team: 'qa' }, [OPS_KEY]: { name: 'ops', team: 'ops' }, [NOBODY_KEY]: { name: 'nobody', team: 'guests' } },
        admin: [{ key: ADMIN, id: 'root' }],
      },
      usage: { flush_interval_ms: 20 },
      plugins: testPlugins(),
      mtls: {
        enabled: true,
        listen_address: '127.0.0.1',
        port: mtlsPort,
        server_cert: certs.server.cert,
        server_key: certs.server.key,
        client_ca: certs.ca.cert,
        identities: [{ match: AGENT, team: 'agents' }],
      },
      security: {
        content_filters: [
          {
            name: 'mcp',
            rules: [
              { name: 'no-drop-table', target: 'request', pattern: 'drop\\s+table', flags: 'i', action: 'block' },
              { name: 'mask-emails', target: 'response', detectors: [{ type: 'pii', kinds: ['email'] }], action: 'redact' },
              { name: 'no-secrets-out', target: 'response', keywords: ['TOP-SECRET'], action: 'block' },
            ],
          },
        ],
      },
      rate_limits: { rules: [{ name: 'forecast-per-key', match: { team: 'qa', key: '*', mcp_tool: 'weather__forecast' }, tool_calls_per_minute: 4 }] },
      mcp: {
        enabled: true,
        port: mcpPort,
        max_sessions_per_caller: 20,
        servers: [
          { name: 'weather', url: weather.url, credential_env: 'WEATHER_MCP_TOKEN', timeout_seconds: 5 },
          { name: 'files', url: files.url, headers: { 'x-tenant': 'gateway' }, timeout_seconds: 5 },
        ],
        access: [
          { teams: ['ops'] },
          { teams: ['qa'], servers: ['weather', 'files', 'legacy'], tools: ['weather__*', 'files__read_*', 'legacy__*'] },
          { identities: ['spiffe://example.org/agent/*'], servers: ['weather'], tools: ['weather__forecast'] },
        ],
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await gw?.stop();
  await Promise.all([weather?.close(), files?.close(), legacy?.close()]);
});

const connect = async (key: string) => {
  const c = await connectMcp(gw.url, { key });
  open.push(c);
  return c;
};

test('tools of both servers are listed through Envoy, namespaced per server; a call reaches the right server with its credential', async () => {
  const { client } = await connect(OPS_KEY);
  expect(client.getServerVersion()?.name).toBe('llm-gateway');
  const names = (await client.listTools()).tools.map((t) => t.name).sort();
  expect(names).toEqual(['files__classified', 'files__confirm', 'files__delete_file', 'files__read_file', 'weather__confirm', 'weather__contact', 'weather__forecast', 'weather__slow']);

  const r = await client.callTool({ name: 'files__read_file', arguments: { path: '/etc/motd' } });
  expect(text(r)).toBe('contents of /etc/motd');
  expect(files.calls.at(-1)).toEqual({ tool: 'read_file', args: { path: '/etc/motd' } });
  expect(text(await client.callTool({ name: 'weather__forecast', arguments: { city: 'Oslo' } }))).toBe('sunny in Oslo');
  // The upstream gets its own credential, never the caller's key; files gets its configured header.
  const weatherAuth = weather.headers.map((h) => h.authorization);
  expect(weatherAuth.every((a) => a === `Bearer ${WEATHER_TOKEN}`)).toBe(true);
  expect(files.headers.some((h) => h.authorization !== undefined)).toBe(false);
  expect(files.headers.at(-1)!['x-tenant']).toBe('gateway');
  expect(JSON.stringify([...weather.headers, ...files.headers])).not.toContain(OPS_KEY);
  expect(gw.output()).not.toContain(WEATHER_TOKEN);
});

test('prompts and resources are aggregated with namespaced names and URIs', async () => {
  const { client } = await connect(OPS_KEY);
  const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
  expect(prompts).toEqual(['weather__greeting']);
  const got = await client.getPrompt({ name: 'weather__greeting', arguments: { name: 'Ada' } });
  expect((got.messages[0].content as { text: string }).text).toBe('Hello Ada');
  const resources = (await client.listResources()).resources;
  expect(resources.map((r) => r.uri)).toEqual(['mcp://weather/weather://today']);
  const read = await client.readResource({ uri: 'mcp://weather/weather://today' });
  expect(read.contents).toEqual([expect.objectContaining({ uri: 'mcp://weather/weather://today', text: 'rain' })]);
});

test('a forbidden tool is hidden from tools/list and refused on tools/call with a JSON-RPC error, never reaching the server', async () => {
  const { client } = await connect(QA_KEY);
  const names = (await client.listTools()).tools.map((t) => t.name);
  expect(names).toContain('files__read_file');
  expect(names).not.toContain('files__delete_file');
  const before = files.calls.length;
  await expect(client.callTool({ name: 'files__delete_file', arguments: { path: '/x' } })).rejects.toMatchObject({
    code: -32003,
    message: expect.stringContaining('not allowed to use the tool `files__delete_file`'),
    data: { code: 'mcp_tool_not_allowed', status: 403 },
  });
  expect(files.calls.length).toBe(before);
  // A name that is not namespaced: invalid params, said once.
  const unknown = await client.callTool({ name: 'nonsense', arguments: {} }).catch((e: Error & { code?: number }) => e);
  expect(unknown).toMatchObject({ code: -32602, message: 'MCP error -32602: Unknown tool: nonsense' });
  // A key no rule covers sees nothing.
  const { client: nobody } = await connect(NOBODY_KEY);
  expect((await nobody.listTools()).tools).toEqual([]);
  await expect(nobody.callTool({ name: 'weather__forecast', arguments: { city: 'x' } })).rejects.toMatchObject({ data: { code: 'mcp_server_not_allowed' } });
});

test('calls beyond tool_calls_per_minute get HTTP 429 with a JSON-RPC error and retry-after', async () => {
  const { client } = await connect(QA_KEY);
  for (let i = 0; i < 4; i++) expect(text(await client.callTool({ name: 'weather__forecast', arguments: { city: `c${i}` } }))).toBe(`sunny in c${i}`);
  const before = weather.calls.length;
  const err = await client.callTool({ name: 'weather__forecast', arguments: { city: 'one-too-many' } }).catch((e: Error & { code?: number }) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: number }).code).toBe(429);
  expect((err as Error).message).toContain('"code":-32029');
  expect((err as Error).message).toContain('Rate limit reached for tool calls (forecast-per-key');
  expect(weather.calls.length).toBe(before);
  // Other tools are not limited by that rule.
  expect(text(await client.callTool({ name: 'files__read_file', arguments: { path: 'a' } }))).toBe('contents of a');
  // The raw answer: status 429, retry-after, a JSON-RPC error body with the request's id.
  const raw = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${QA_KEY}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': (open.at(-1)!.transport.sessionId)!,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'weather__forecast', arguments: { city: 'x' } } }),
  });
  expect(raw.status).toBe(429);
  expect(Number(raw.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await raw.json()).toMatchObject({ jsonrpc: '2.0', id: 77, error: { code: -32029, data: { code: 'rate_limit_exceeded', status: 429 } } });
});

test('the content filter blocks tool arguments, and redacts or blocks tool results', async () => {
  const { client } = await connect(OPS_KEY);
  const before = files.calls.length;
  await expect(client.callTool({ name: 'files__read_file', arguments: { path: "x'; DROP TABLE users; --" } })).rejects.toMatchObject({
    code: -32602,
    message: expect.stringContaining('blocked by the content filter rule `no-drop-table`'),
    data: { code: 'content_filtered' },
  });
  expect(files.calls.length).toBe(before);
  const r = await client.callTool({ name: 'weather__contact', arguments: {} });
  expect(text(r)).toBe('write to [REDACTED:email] for details');
  // A result can be withheld too: the server was called, the client gets the error instead.
  await expect(client.callTool({ name: 'files__classified', arguments: {} })).rejects.toMatchObject({
    message: expect.stringContaining('The tool result was blocked by the content filter rule `no-secrets-out`'),
    data: { code: 'content_filtered' },
  });
  expect(files.calls.at(-1)!.tool).toBe('classified');
});

test('an upstream server down: a clear JSON-RPC error for its tools, absent from lists, the other still served; back when it returns', async () => {
  const { client } = await connect(OPS_KEY);
  expect(text(await client.callTool({ name: 'files__read_file', arguments: { path: 'before' } }))).toBe('contents of before');
  await files.stop();
  try {
    await expect(client.callTool({ name: 'files__read_file', arguments: { path: 'down' } })).rejects.toMatchObject({
      code: -32052,
      message: expect.stringContaining('The MCP server `files` is unavailable'),
      data: { code: 'mcp_server_unavailable', status: 502 },
    });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.some((n) => n.startsWith('files__'))).toBe(false);
    expect(names).toContain('weather__forecast');
    expect(text(await client.callTool({ name: 'weather__forecast', arguments: { city: 'Rome' } }))).toBe('sunny in Rome');
  } finally {
    await files.restart();
  }
  expect(text(await client.callTool({ name: 'files__read_file', arguments: { path: 'after' } }))).toBe('contents of after');
  expect((await client.listTools()).tools.map((t) => t.name)).toContain('files__read_file');
  // Restarted between two calls (its sessions forgotten): the next call gets a new upstream session, no error.
  const sessions = files.sessions.length;
  await files.stop();
  await files.restart();
  expect(text(await client.callTool({ name: 'files__read_file', arguments: { path: 'restarted' } }))).toBe('contents of restarted');
  expect(files.sessions.length).toBe(sessions + 1);
});

test('one gateway session maps to one upstream session per server across several calls; the session id is minted and DELETE ends it', async () => {
  const c = await connect(OPS_KEY);
  const sessionsBefore = weather.sessions.length;
  for (const city of ['a', 'b', 'c']) await c.client.callTool({ name: 'weather__forecast', arguments: { city } });
  await c.client.listTools();
  expect(weather.sessions.length).toBe(sessionsBefore + 1);
  const upstreamSession = weather.sessions.at(-1)!;
  const seen = weather.headers.slice(-4).map((h) => h['mcp-session-id']);
  expect(seen.every((s) => s === upstreamSession)).toBe(true);
  // The gateway's own id: random, not the upstream's.
  const sid = c.transport.sessionId!;
  expect(sid).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(sid).not.toBe(upstreamSession);
  // Another caller cannot use it.
  const foreign = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${QA_KEY}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  expect(foreign.status).toBe(404);
  expect((await foreign.json()).error.data.code).toBe('mcp_session_not_found');
  await c.transport.terminateSession();
  const after = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPS_KEY}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  expect(after.status).toBe(404);
  // The upstream session was ended too.
  await waitFor(() => weather.headers.some((h, i) => weather.methods[i] === 'DELETE' && h['mcp-session-id'] === upstreamSession), 3000);
});

test("an upstream's tools/list_changed reaches the client on its GET stream through Envoy, and the new tool is listed", async () => {
  const c = await connect(OPS_KEY);
  await c.client.callTool({ name: 'weather__forecast', arguments: { city: 'x' } });
  let notified = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void notified++);
  // The upstream server of this session adds a tool (the SDK then sends notifications/tools/list_changed).
  const upstream = weather.servers.at(-1)!;
  upstream.registerTool('alerts', { description: 'Weather alerts', inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'no alerts' }] }));
  await waitFor(() => notified > 0, 5000);
  expect((await c.client.listTools()).tools.map((t) => t.name)).toContain('weather__alerts');
  expect(text(await c.client.callTool({ name: 'weather__alerts', arguments: {} }))).toBe('no alerts');
});

test('progress and log notifications of a call reach the client on its stream, the progress token mapped back and the logger named by server', async () => {
  const { client } = await connect(OPS_KEY);
  const progress: number[] = [];
  const logs: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logs.push(n.params));
  const r = await client.callTool({ name: 'weather__slow', arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) });
  expect(text(r)).toBe('done');
  expect(progress).toEqual([1, 2]);
  expect(logs).toEqual([{ level: 'info', logger: 'weather/jobs', data: 'working' }]);
});

test('server-to-client requests (elicitation) from two servers at once reach the client with ids that cannot collide, and the answers go back to the right one', async () => {
  const c = await connectMcp(gw.url, { key: OPS_KEY, capabilities: { capabilities: { elicitation: {} } } });
  open.push(c);
  const ids: (string | number)[] = [];
  c.client.setRequestHandler(ElicitRequestSchema, async (req, extra) => {
    ids.push(extra.requestId);
    // Each upstream asks its first question with id 0 of its own session; answered in turn.
    await new Promise((r) => setTimeout(r, 20));
    return { action: 'accept', content: { ok: req.params.message === 'Really deploy?' } };
  });
  const [deploy, wipe] = await Promise.all([
    c.client.callTool({ name: 'weather__confirm', arguments: { what: 'deploy' } }),
    c.client.callTool({ name: 'files__confirm', arguments: { what: 'wipe' } }),
  ]);
  expect(text(deploy)).toBe('accept:{"ok":true}');
  expect(text(wipe)).toBe('accept:{"ok":false}');
  expect(ids).toHaveLength(2);
  expect(new Set(ids).size).toBe(2);
});

test('one caller holds at most mcp.max_sessions_per_caller sessions; ending one makes room', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
  const headers = { authorization: `Bearer ${NOBODY_KEY}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const opened: string[] = [];
  let refused: Response | undefined;
  for (let i = 0; i < 25 && !refused; i++) {
    const r = await fetch(`${gw.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
    if (r.status === 200) {
      opened.push(r.headers.get('mcp-session-id')!);
      await r.text();
    } else refused = r;
  }
  expect(refused?.status).toBe(503);
  expect(refused?.headers.get('retry-after')).toBe('5');
  expect((await refused!.json()).error).toMatchObject({ code: -32053, data: { code: 'mcp_session_limit' }, message: expect.stringContaining('This caller holds') });
  expect(opened.length).toBeLessThanOrEqual(20);
  // Other callers are not affected.
  const other = await connect(OPS_KEY);
  expect((await other.client.listTools()).tools.length).toBeGreaterThan(0);
  const del = await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': opened[0], 'mcp-protocol-version': '2025-06-18' } });
  expect(del.status).toBe(200);
  const again = await fetch(`${gw.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
  expect(again.status).toBe(200);
  await again.text();
});

test('unauthenticated requests get 401 with a JSON-RPC error; a bad key too', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
  const send = (headers: Record<string, string>) =>
    fetch(`${gw.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(init) });
  const none = await send({});
  expect(none.status).toBe(401);
  expect(await none.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32040, data: { code: 'missing_api_key' } } });
  const bad = await send({ authorization: 'Bearer sk-not-a-key-000000' });
  expect(bad.status).toBe(401);
  expect((await bad.json()).error.data.code).toBe('invalid_api_key');
});

test('a server added through the admin API serves live (SSE transport); credentials are never returned; removal takes it away', async () => {
  const { client } = await connect(QA_KEY);
  expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('legacy__ping_legacy');
  const api = (p: string, init: RequestInit = {}) => fetch(`${gw.url}${p}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
  // A URL carrying credentials is refused: it would be shown back in lists and error messages.
  const inUrl = await api('/v1/mcp/servers', { method: 'POST', body: JSON.stringify({ name: 'legacy', url: legacy.url.replace('://', '://user:url-secret@'), transport: 'sse' }) });
  expect(inUrl.status).toBe(400);
  const refused = await inUrl.json();
  expect(refused.error).toMatchObject({ param: 'url', message: expect.stringContaining('must not carry credentials') });
  expect(JSON.stringify(refused)).not.toContain('url-secret');
  const created = await api('/v1/mcp/servers', { method: 'POST', body: JSON.stringify({ name: 'legacy', url: legacy.url, transport: 'sse', credential: 'legacy-secret-value' }) });
  expect(created.status).toBe(201);
  const body = await created.json();
  expect(body).toMatchObject({ name: 'legacy', transport: 'sse', has_credential: true, source: 'api' });
  expect(JSON.stringify(body)).not.toContain('legacy-secret-value');
  const listed = await (await api('/v1/mcp/servers')).json();
  expect(listed.data.map((s: { name: string }) => s.name)).toEqual(['files', 'legacy', 'weather']);
  expect(JSON.stringify(listed)).not.toContain(WEATHER_TOKEN);

  const names = await waitFor(async () => {
    const n = (await client.listTools()).tools.map((t) => t.name);
    return n.includes('legacy__ping_legacy') ? n : undefined;
  }, 5000);
  expect(names).toContain('legacy__ping_legacy');
  expect(text(await client.callTool({ name: 'legacy__ping_legacy', arguments: {} }))).toBe('pong from sse');
  expect(legacy.headers.some((h) => h.authorization === 'Bearer legacy-secret-value')).toBe(true);

  expect((await api('/v1/mcp/servers/weather', { method: 'DELETE' })).status).toBe(409);
  expect((await api('/v1/mcp/servers/legacy', { method: 'DELETE' })).status).toBe(200);
  await expect(client.callTool({ name: 'legacy__ping_legacy', arguments: {} })).rejects.toMatchObject({ data: { code: 'mcp_server_not_allowed' } });
  const audit = await (await api('/v1/audit?action=mcp_server.added')).json();
  expect(audit.data.some((r: { target: string }) => r.target === 'legacy')).toBe(true);
});

test('an mTLS identity is authorized by its access rule', async () => {
  const agent = certs.clients.find((c) => c.id === AGENT)!;
  const c = await connectMcp(`https://127.0.0.1:${mtlsPort}`, { fetch: mtlsFetch(certs.ca.cert, agent) });
  open.push(c);
  expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['weather__forecast']);
  expect(text(await c.client.callTool({ name: 'weather__forecast', arguments: { city: 'Bergen' } }))).toBe('sunny in Bergen');
  await expect(c.client.callTool({ name: 'weather__contact', arguments: {} })).rejects.toMatchObject({ data: { code: 'mcp_tool_not_allowed' } });
});

test('every tool call is a usage record (endpoint mcp, server as provider, <server>/<tool> as model), an audit record and counted in /metrics', async () => {
  const api = (p: string) => fetch(`${gw.url}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const rows = await waitFor(async () => {
    const r = await (await api('/v1/usage?group_by=model')).json();
    const groups = (r.data ?? []) as { group: string; requests: number }[];
    return groups.some((g) => g.group === 'weather/forecast') ? groups : undefined;
  }, 5000);
  expect(rows!.find((g) => g.group === 'files/read_file')!.requests).toBeGreaterThan(0);
  const byEndpoint = (await (await api('/v1/usage?group_by=endpoint')).json()).data as { group: string }[];
  expect(byEndpoint.map((g) => g.group)).toContain('mcp');
  const audit = await (await api('/v1/audit?action=mcp.tool_called')).json();
  const denied = audit.data.find((r: { outcome: string; target: string }) => r.outcome === 'denied' && r.target === 'files/delete_file');
  expect(denied).toBeDefined();
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  expect(metrics).toMatch(/gateway_mcp_tool_calls_total\{server="files",outcome="responded",status="403"\} [1-9]/);
  expect(metrics).toMatch(/gateway_mcp_tool_calls_total\{server="weather",outcome="responded",status="429"\} [1-9]/);
  expect(metrics).toMatch(/gateway_mcp_tool_call_duration_seconds_count\{server="weather"\} [1-9]/);
});
