import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

/**
 * Upstream MCP servers for the MCP gateway's tests, built with the official SDK (McpServer):
 * Streamable HTTP with sessions (the SDK's StreamableHTTPServerTransport), or the older HTTP+SSE
 * transport, on a kernel-assigned loopback port. They record what the gateway sent them.
 */
export interface UpstreamMcp {
  url: string;
  port: number;
  /** Upstream session ids created (one per initialize). */
  sessions: string[];
  /** Headers of every HTTP request received. */
  headers: http.IncomingHttpHeaders[];
  /** Method of every HTTP request received (same order as headers). */
  methods: string[];
  /** Tool calls received: tool name and arguments. */
  calls: { tool: string; args: unknown }[];
  /** The McpServer of each live session (to send notifications from the test). */
  servers: McpServer[];
  /** Stops listening and drops every session (the server is "down"). */
  stop(): Promise<void>;
  /** Listens again on the same port (a restarted server: earlier sessions are unknown). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export type Define = (server: McpServer, record: (tool: string, args: unknown) => void) => void;

export async function startUpstreamMcp(define: Define, opts: { transport?: 'streamable-http' | 'sse'; port?: number } = {}): Promise<UpstreamMcp> {
  const sessions: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const methods: string[] = [];
  const calls: { tool: string; args: unknown }[] = [];
  const servers: McpServer[] = [];
  let live = new Map<string, StreamableHTTPServerTransport | SSEServerTransport>();
  const record = (tool: string, args: unknown) => calls.push({ tool, args });
  const newServer = () => {
    const server = new McpServer({ name: 'test-upstream', version: '1.0.0' }, { capabilities: { logging: {} } });
    define(server, record);
    servers.push(server);
    return server;
  };

  const readJson = async (req: http.IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : undefined;
  };

  const streamable = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const sid = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    let transport = typeof sid === 'string' ? (live.get(sid) as StreamableHTTPServerTransport | undefined) : undefined;
    if (!transport) {
      if (typeof sid === 'string' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
        return;
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.push(id);
          live.set(id, t);
        },
      });
      t.onclose = () => {
        if (t.sessionId) live.delete(t.sessionId);
      };
      await newServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, body);
  };

  const sse = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const t = new SSEServerTransport('/messages', res);
      sessions.push(t.sessionId);
      live.set(t.sessionId, t);
      res.on('close', () => live.delete(t.sessionId));
      await newServer().connect(t);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const t = live.get(url.searchParams.get('sessionId') ?? '') as SSEServerTransport | undefined;
      if (!t) return void res.writeHead(404).end('unknown session');
      await t.handlePostMessage(req, res, await readJson(req));
      return;
    }
    res.writeHead(404).end();
  };

  const httpServer = http.createServer((req, res) => {
    headers.push(req.headers);
    methods.push(req.method ?? '');
    (opts.transport === 'sse' ? sse : streamable)(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  const listen = (port: number) => new Promise<number>((resolve) => httpServer.listen(port, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port)));
  const port = await listen(opts.port ?? 0);
  const dropAll = async () => {
    const all = [...live.values()];
    live = new Map();
    await Promise.all(all.map((t) => t.close().catch(() => undefined)));
    servers.length = 0;
  };
  return {
    url: opts.transport === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`,
    port,
    sessions,
    headers,
    methods,
    calls,
    servers,
    async stop() {
      await dropAll();
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
    },
    async restart() {
      await listen(port);
    },
    async close() {
      await dropAll();
      httpServer.closeAllConnections();
      if (httpServer.listening) await new Promise((r) => httpServer.close(r));
    },
  };
}
