import http from 'node:http';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, isGatewayError } from '../domain/errors';
import type { KeyService } from '../keys/service';
import type { IdentityRule } from '../identity/config';
import type { RateLimiter } from '../ratelimit/limiter';
import { authenticateCaller } from './caller';
import type { McpConfig } from './config';
import { jsonRpcErrorBody } from './errors';
import { randomId } from './ids';
import { qualifiedName, splitName } from './names';
import type { McpAccessRules } from './access';
import { liveAccessFor, type McpCaller } from './policy';
import type { ToolCallFacts } from './records';
import { toolCallRefusal } from './ratelimit';
import { McpSession, type SessionDeps } from './session';

/** MCP messages are small JSON; tool arguments may carry some data, not files. */
export const MAX_MCP_BODY_BYTES = 4 * 1024 * 1024;
const SESSION_HEADER = 'mcp-session-id';

export interface FrontDeps extends SessionDeps {
  config: McpConfig;
  keys: KeyService;
  identities: readonly IdentityRule[];
  limiter: RateLimiter;
  /** The access rules in force (configured and run-time), asked on every check. */
  access: McpAccessRules;
}

type Message = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown } };

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_MCP_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size <= MAX_MCP_BODY_BYTES ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

function sendError(res: http.ServerResponse, err: GatewayError, id: string | number | null = null): void {
  if (res.headersSent) return void res.end();
  const data = JSON.stringify(jsonRpcErrorBody(err, id));
  res.writeHead(err.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...err.headers });
  res.end(data);
}

const idOf = (m: Message | undefined): string | number | null => (typeof m?.id === 'string' || typeof m?.id === 'number' ? m.id : null);

/**
 * The processor's MCP front: `/mcp` as Envoy routes it here (src/envoy/config/bootstrap.ts),
 * Streamable HTTP. Every request is authenticated (caller.ts); a session belongs to the caller
 * that opened it, and another caller gets 404 for it, as for an unknown one. The SDK's
 * transport does the protocol (POST, GET stream, DELETE); before it, tool calls are counted
 * against the rate limits so that a refusal can be an HTTP 429.
 */
export class McpFront {
  readonly http: http.Server;
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deps: FrontDeps) {
    this.http = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        deps.log.error({ err: { message: err.message } }, 'MCP request failed');
        sendError(res, new GatewayError(500, 'internal_error', 'The MCP request failed.'));
      });
    });
    // Server-to-client streams stay open; Envoy's route idle timeout bounds them.
    this.http.requestTimeout = 0;
    this.http.keepAliveTimeout = 30_000;
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
    deps.servers.onChange((names) => {
      for (const s of this.sessions.values()) s.serversChanged(names);
    });
    // A changed rule may show or hide tools: clients re-list (no upstream link changes).
    deps.access.onChange(() => {
      for (const s of this.sessions.values()) s.serversChanged([]);
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const idle = Date.now() - this.deps.config.session_idle_seconds * 1000;
    for (const s of this.sessions.values()) {
      if (s.lastUsed < idle) {
        this.sessions.delete(s.id);
        void s.transport.close();
      }
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') {
      req.resume();
      return sendError(res, new GatewayError(404, 'unknown_url', `Unknown request URL: ${req.method} ${path.slice(0, 200)}.`));
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      req.resume();
      return sendError(res, new GatewayError(405, 'method_not_allowed', `${req.method} is not allowed on /mcp (POST, GET or DELETE).`, { headers: { allow: 'POST, GET, DELETE' } }));
    }
    let caller: McpCaller;
    try {
      caller = await authenticateCaller(req, this.deps.keys, this.deps.identities);
    } catch (err) {
      req.resume();
      if (isGatewayError(err)) return sendError(res, err);
      throw err;
    }
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      if (!raw) return sendError(res, new GatewayError(413, 'request_too_large', `The request body is larger than /mcp accepts (${MAX_MCP_BODY_BYTES} bytes).`));
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        const data = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the body is not valid JSON.' } });
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
        return void res.end(data);
      }
    } else {
      req.resume();
    }
    const messages = (Array.isArray(body) ? body : [body]) as Message[];
    const sessionId = req.headers[SESSION_HEADER];
    let session: McpSession | undefined;
    if (typeof sessionId === 'string') {
      session = this.sessions.get(sessionId);
      // Someone else's session is as unknown as an expired one.
      if (!session || !session.belongsTo(caller)) return sendError(res, new GatewayError(404, 'mcp_session_not_found', 'Session not found: start a new one with initialize.'), idOf(messages[0]));
    } else if (req.method === 'POST' && messages.some((m) => isInitializeRequest(m))) {
      const mine = [...this.sessions.values()].filter((s) => s.belongsTo(caller)).length;
      if (this.sessions.size >= this.deps.config.max_sessions || mine >= this.deps.config.max_sessions_per_caller) {
        const who = mine >= this.deps.config.max_sessions_per_caller ? 'This caller holds' : 'The gateway holds';
        return sendError(res, new GatewayError(503, 'mcp_session_limit', `${who} as many MCP sessions as it may: end some (DELETE /mcp) or retry later.`, { headers: { 'retry-after': '5' } }), idOf(messages[0]));
      }
      session = await this.newSession(caller);
    } else {
      return sendError(res, new GatewayError(400, 'mcp_session_required', 'The Mcp-Session-Id header is required (send initialize first).'), idOf(messages[0]));
    }
    session.lastUsed = Date.now();
    if (req.method === 'POST') {
      const refusal = await this.rateLimit(session, messages, req);
      if (refusal) return sendError(res, refusal.err, refusal.id);
    }
    await session.transport.handleRequest(req, res, body);
  }

  private async newSession(caller: McpCaller): Promise<McpSession> {
    const session = new McpSession(
      randomId(),
      caller,
      liveAccessFor(() => this.deps.access.rules(), caller),
      this.deps,
      (s) => this.sessions.set(s.id, s),
      (s) => {
        if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
      },
    );
    await session.start();
    return session;
  }

  /** Counts the tool calls of a POST; the first refused one answers the whole POST (429). */
  private async rateLimit(session: McpSession, messages: Message[], req: http.IncomingMessage): Promise<{ err: GatewayError; id: string | number | null } | undefined> {
    for (const m of messages) {
      if (m?.method !== 'tools/call') continue;
      const q = splitName(m.params?.name);
      // Unknown and forbidden tools are refused by the session without counting.
      if (!q || !session.usableServers().some((s) => s.name === q.server) || !session.toolAllowed(q.server, q.name)) continue;
      const started = performance.now();
      const err = await toolCallRefusal(this.deps.limiter, session.caller, q.server, qualifiedName(q.server, q.name));
      if (!err) continue;
      const requestId = req.headers['x-request-id'];
      const facts: ToolCallFacts = {
        id: randomId('mcp_'),
        requestId: typeof requestId === 'string' ? requestId.slice(0, 200) : null,
        caller: session.caller,
        server: q.server,
        tool: q.name,
        startedAt: Date.now(),
        durationMs: performance.now() - started,
        status: err.status,
        outcome: 'responded',
        error: err.code ?? undefined,
      };
      this.deps.record(facts);
      return { err, id: idOf(m) };
    }
    return undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.transport.close().catch(() => undefined)));
    this.http.closeAllConnections();
    await new Promise((r) => this.http.close(r));
  }
}
