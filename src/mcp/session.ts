import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type JSONRPCRequest,
  type LoggingLevel,
  type Notification,
  type Result,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, isGatewayError } from '../domain/errors';
import type { JsonObject } from '../domain';
import type { Logger } from '../observability/logger';
import { handlerError, invalidParams } from './errors';
import { principalOf, runToolHooks, ToolCallState } from './hooks';
import { qualifiedName, qualifiedUri, splitName, splitUri } from './names';
import type { McpAccess, McpCaller } from './policy';
import type { ToolCallFacts } from './records';
import type { McpServers, McpServerSpec } from './servers';
import { failureReason, unavailable, UpstreamLink, type LinkEvents } from './upstream';
import type { LoadedPlugin } from '../plugins/host';
import { randomId } from './ids';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface SessionDeps {
  servers: McpServers;
  plugins: readonly LoadedPlugin[];
  log: Logger;
  /** Usage (and, where configured, audit) record of one tool call. */
  record(f: ToolCallFacts): void;
  /** What each server last said it supports, learned by any session: merged into initialize. */
  knownCapabilities: Map<string, ServerCapabilities>;
}

const GATEWAY_SERVER = { name: 'llm-gateway', version: '1' };

/** The capabilities `/mcp` declares: those of the servers the caller may use (all of them while unknown). */
export function mergedCapabilities(servers: readonly McpServerSpec[], known: ReadonlyMap<string, ServerCapabilities>): ServerCapabilities {
  const caps: ServerCapabilities = { tools: { listChanged: true }, logging: {} };
  for (const s of servers) {
    const k = known.get(s.name);
    if (!k || k.prompts) caps.prompts = { listChanged: true };
    if (!k || k.resources) caps.resources = { listChanged: true };
  }
  return caps;
}

const requestIdOf = (extra: Extra): string | null => {
  const v = extra.requestInfo?.headers['x-request-id'];
  return typeof v === 'string' ? v.slice(0, 200) : null;
};

/**
 * One gateway session at `/mcp`: the MCP SDK's Server on a Streamable HTTP transport, whose
 * `Mcp-Session-Id` the gateway mints, bound to the caller that opened it. Its handlers
 * aggregate the upstream servers the caller may use; each upstream session is opened on first
 * use (UpstreamLink) and lives as long as this one.
 */
export class McpSession {
  readonly server: Server;
  readonly transport: StreamableHTTPServerTransport;
  lastUsed = Date.now();
  private readonly links = new Map<string, Promise<UpstreamLink>>();
  /** Per server, the client requests it is working on: its own requests go out on their streams. */
  private readonly inFlight = new Map<string, Extra[]>();
  private logLevel: LoggingLevel | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    readonly caller: McpCaller,
    private readonly access: McpAccess,
    private readonly deps: SessionDeps,
    onInitialized: (s: McpSession) => void,
    onClosed: (s: McpSession) => void,
  ) {
    const capabilities = mergedCapabilities(this.usableServers(), deps.knownCapabilities);
    this.server = new Server(GATEWAY_SERVER, { capabilities });
    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: () => onInitialized(this),
      onsessionclosed: () => void this.close(),
    });
    this.transport.onclose = () => {
      void this.close();
      onClosed(this);
    };
    this.registerHandlers(capabilities);
  }

  async start(): Promise<void> {
    await this.server.connect(this.transport);
  }

  /** Whether the caller of a request is the one this session belongs to. */
  belongsTo(caller: McpCaller): boolean {
    return caller.kind === this.caller.kind && caller.id === this.caller.id;
  }

  /** Servers this caller may use, now (admin changes apply at once). */
  usableServers(): McpServerSpec[] {
    return this.deps.servers.all().filter((s) => s.available && this.access.server(s.name));
  }

  toolAllowed(server: string, tool: string): boolean {
    return this.access.tool(server, qualifiedName(server, tool));
  }

  /** Some servers changed (admin API): their links are reopened on next use; the client re-lists. */
  serversChanged(names: readonly string[]): void {
    for (const name of names) this.dropLink(name);
    this.server.sendToolListChanged().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((l) => l.then((x) => x.close()).catch(() => undefined)));
    await this.server.close().catch(() => undefined);
  }

  // -- upstream links ------------------------------------------------------------------------

  private usable(name: string): McpServerSpec {
    const spec = this.deps.servers.get(name);
    if (!spec || !spec.available || !this.access.server(name)) {
      throw new GatewayError(403, 'mcp_server_not_allowed', `This caller may not use an MCP server named \`${name}\`, or there is none.`);
    }
    return spec;
  }

  private link(spec: McpServerSpec): Promise<UpstreamLink> {
    let p = this.links.get(spec.name);
    if (p) return p;
    const capabilities = this.server.getClientCapabilities() ?? {};
    p = UpstreamLink.open(spec, { ...(capabilities.sampling ? { sampling: capabilities.sampling } : {}), ...(capabilities.elicitation ? { elicitation: capabilities.elicitation } : {}), ...(capabilities.roots ? { roots: capabilities.roots } : {}) }, this.events);
    this.links.set(spec.name, p);
    p.then(
      (l) => {
        this.deps.knownCapabilities.set(spec.name, l.capabilities);
        if (this.logLevel && l.capabilities.logging) l.client.setLoggingLevel(this.logLevel).catch(() => undefined);
        // Closed while it was opening, or replaced by a newer spec meanwhile.
        if (this.closed || this.links.get(spec.name) !== p) void l.close();
      },
      () => {
        if (this.links.get(spec.name) === p) this.links.delete(spec.name);
      },
    );
    return p;
  }

  private dropLink(name: string): void {
    const p = this.links.get(name);
    if (!p) return;
    this.links.delete(name);
    p.then((l) => l.close()).catch(() => undefined);
  }

  /** Runs `fn` on the server's link; a link that broke is dropped (the next use reconnects). */
  private async withLink<T>(spec: McpServerSpec, extra: Extra | undefined, fn: (l: UpstreamLink) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const link = await this.link(spec);
      const active = this.inFlight.get(spec.name) ?? [];
      if (extra) active.push(extra);
      this.inFlight.set(spec.name, active);
      try {
        return await fn(link);
      } catch (err) {
        if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
          throw new GatewayError(504, 'mcp_server_timeout', `The MCP server \`${spec.name}\` did not answer within ${spec.timeoutMs / 1000} s.`);
        }
        // The server's own JSON-RPC error is its answer: passed on as it is.
        if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed) throw err;
        if (isGatewayError(err)) throw err;
        this.dropLink(spec.name);
        // Its upstream session is gone (the server restarted): one new session, once.
        if ((err as { code?: unknown }).code === 404 && attempt === 1) continue;
        throw unavailable(spec.name, failureReason(err));
      } finally {
        if (extra) active.splice(active.indexOf(extra), 1);
      }
    }
  }

  /** What upstream servers send the client: on the stream of a request of the client's they serve, if any. */
  private readonly events: LinkEvents = {
    request: async (server: string, req: JSONRPCRequest): Promise<Result> => {
      const extra = this.inFlight.get(server)?.at(-1);
      const out = { method: req.method, params: req.params } as ServerRequest;
      return extra ? extra.sendRequest(out, ResultSchema) : this.server.request(out, ResultSchema);
    },
    notification: async (server: string, n: Notification): Promise<void> => {
      const params = { ...(n.params ?? {}) } as Record<string, unknown>;
      if (n.method === 'notifications/message') params.logger = typeof params.logger === 'string' ? `${server}/${params.logger}` : server;
      if (n.method === 'notifications/resources/updated' && typeof params.uri === 'string') params.uri = qualifiedUri(server, params.uri);
      const out = { method: n.method, params } as ServerNotification;
      const extra = this.inFlight.get(server)?.at(-1);
      await (extra ? extra.sendNotification(out) : this.server.notification(out)).catch(() => undefined);
    },
    toolsChanged: (server: string) => {
      // Re-list first, so the client's next tools/list is served from a fresh list.
      const p = this.links.get(server);
      void p
        ?.then((l) => l.listTools())
        .catch(() => undefined)
        .then(() => this.server.sendToolListChanged())
        .catch(() => undefined);
    },
    closed: (server: string) => this.dropLink(server),
  };

  // -- handlers ------------------------------------------------------------------------------

  private registerHandlers(capabilities: ServerCapabilities): void {
    const s = this.server;
    const guarded =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        try {
          return await fn(...a);
        } catch (err) {
          throw isGatewayError(err) ? handlerError(err) : err;
        }
      };

    s.setRequestHandler(ListToolsRequestSchema, guarded(async () => ({ tools: await this.listTools() })));
    s.setRequestHandler(CallToolRequestSchema, guarded((req: CallToolRequest, extra: Extra) => this.callTool(req, extra)));
    s.setRequestHandler(SetLevelRequestSchema, async (req) => {
      this.logLevel = req.params.level;
      for (const p of this.links.values()) p.then((l) => l.capabilities.logging && l.client.setLoggingLevel(req.params.level)).catch(() => undefined);
      return {};
    });
    s.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
      for (const p of this.links.values()) p.then((l) => l.client.sendRootsListChanged()).catch(() => undefined);
    });
    if (capabilities.prompts) {
      s.setRequestHandler(ListPromptsRequestSchema, guarded(async () => ({
        prompts: (await this.gather((l) => (l.capabilities.prompts ? l.client.listPrompts(undefined, l.options()) : undefined))).flatMap(([server, r]) =>
          r.prompts.map((p) => ({ ...p, name: qualifiedName(server, p.name) })),
        ),
      })));
      s.setRequestHandler(GetPromptRequestSchema, guarded(async (req, extra) => {
        const q = splitName(req.params.name);
        if (!q) throw invalidParams(`Unknown prompt: ${String(req.params.name).slice(0, 200)}`);
        const spec = this.usable(q.server);
        return this.withLink(spec, extra, (l) => l.client.getPrompt({ ...req.params, name: q.name }, l.options({ signal: extra.signal })));
      }));
    }
    if (capabilities.resources) {
      s.setRequestHandler(ListResourcesRequestSchema, guarded(async () => ({
        resources: (await this.gather((l) => (l.capabilities.resources ? l.client.listResources(undefined, l.options()) : undefined))).flatMap(([server, r]) =>
          r.resources.map((x) => ({ ...x, uri: qualifiedUri(server, x.uri) })),
        ),
      })));
      s.setRequestHandler(ListResourceTemplatesRequestSchema, guarded(async () => ({
        resourceTemplates: (await this.gather((l) => (l.capabilities.resources ? l.client.listResourceTemplates(undefined, l.options()) : undefined))).flatMap(([server, r]) =>
          r.resourceTemplates.map((x) => ({ ...x, uriTemplate: qualifiedUri(server, x.uriTemplate) })),
        ),
      })));
      s.setRequestHandler(ReadResourceRequestSchema, guarded(async (req, extra) => {
        const q = splitUri(req.params.uri);
        if (!q) throw invalidParams(`Unknown resource: ${String(req.params.uri).slice(0, 200)}`);
        const spec = this.usable(q.server);
        const r = await this.withLink(spec, extra, (l) => l.client.readResource({ ...req.params, uri: q.name }, l.options({ signal: extra.signal })));
        return { ...r, contents: r.contents.map((c) => ({ ...c, uri: qualifiedUri(q.server, c.uri) })) };
      }));
    }
  }

  /**
   * Asks every usable server at once; a server that is down (or fails) is left out of the answer
   * and logged, so the others are still served.
   */
  private async gather<T>(ask: (l: UpstreamLink) => Promise<T> | undefined): Promise<[string, T][]> {
    const answers = await Promise.all(
      this.usableServers().map(async (spec): Promise<[string, T] | undefined> => {
        try {
          const r = await this.withLink(spec, undefined, async (l) => ask(l));
          return r === undefined ? undefined : [spec.name, r];
        } catch (err) {
          this.deps.log.warn({ mcp_server: spec.name, err: { message: (err as Error).message } }, 'MCP server left out of a list');
          return undefined;
        }
      }),
    );
    return answers.filter((a): a is [string, T] => a !== undefined);
  }

  private async listTools() {
    const lists = await this.gather((l) => l.listTools());
    return lists.flatMap(([server, tools]) =>
      tools.filter((t) => this.toolAllowed(server, t.name)).map((t) => ({ ...t, name: qualifiedName(server, t.name) })),
    );
  }

  /**
   * One tool call: the access rules, the plugins' tool hooks (content filter), the upstream
   * call, the hooks again on the result; a usage record whatever happens. Rate limits were
   * applied before the request reached the session (front.ts), to answer them with HTTP 429.
   */
  private async callTool(req: CallToolRequest, extra: Extra): Promise<CallToolResult> {
    const started = performance.now();
    const q = splitName(req.params.name);
    if (!q) throw invalidParams(`Unknown tool: ${String(req.params.name).slice(0, 200)}`);
    const id = randomId('mcp_');
    const startedAt = Date.now();
    const facts = (status: number, outcome: ToolCallFacts['outcome'], extraFacts: Partial<ToolCallFacts> = {}): ToolCallFacts => ({
      id,
      requestId: requestIdOf(extra),
      caller: this.caller,
      server: q.server,
      tool: q.name,
      startedAt,
      durationMs: performance.now() - started,
      status,
      outcome,
      ...extraFacts,
    });
    try {
      const spec = this.usable(q.server);
      if (!this.toolAllowed(q.server, q.name)) {
        throw new GatewayError(403, 'mcp_tool_not_allowed', `This caller is not allowed to use the tool \`${String(req.params.name).slice(0, 200)}\`.`);
      }
      const call = new ToolCallState(id, q.server, q.name, principalOf(this.caller), (req.params.arguments ?? {}) as JsonObject, this.deps.log.child({ mcp_server: q.server, mcp_tool: q.name }));
      await runToolHooks(this.deps.plugins, 'onToolCall', call, this.deps.log);
      const progressToken = req.params._meta?.progressToken;
      const result = (await this.withLink(spec, extra, (l) =>
        l.client.callTool(
          { name: q.name, arguments: call.arguments },
          undefined,
          l.options({
            signal: extra.signal,
            resetTimeoutOnProgress: true,
            onprogress:
              progressToken === undefined
                ? undefined
                : (p) => void extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken } }).catch(() => undefined),
          }),
        ),
      )) as CallToolResult;
      call.setResult(result as unknown as JsonObject);
      await runToolHooks(this.deps.plugins, 'onToolResult', call, this.deps.log);
      this.deps.record(facts(200, 'completed', { toolError: result.isError === true }));
      return call.result as unknown as CallToolResult;
    } catch (err) {
      if (isGatewayError(err)) {
        this.deps.record(facts(err.status, err.status >= 500 ? 'failed' : 'responded', { error: err.code ?? undefined }));
      } else if (err instanceof McpError) {
        this.deps.record(facts(200, 'completed', { error: 'upstream_error', toolError: true }));
      } else {
        this.deps.record(facts(500, 'failed', { error: 'internal_error' }));
      }
      throw err;
    }
  }
}
