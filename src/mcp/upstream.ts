import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  McpError,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
  type JSONRPCRequest,
  type Notification,
  type Result,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../domain/errors';
import type { McpServerSpec } from './servers';

/** What a link tells its session about: server-to-client traffic to pass on. */
export interface LinkEvents {
  /** A request from the upstream server (sampling, elicitation, roots). */
  request(server: string, req: JSONRPCRequest): Promise<Result>;
  notification(server: string, n: Notification): Promise<void>;
  toolsChanged(server: string): void;
  closed(server: string): void;
}

const GATEWAY_CLIENT = { name: 'llm-gateway-mcp', version: '1' };

/** An upstream failure as the caller sees it: which server, never its URL or credential. */
export function unavailable(server: string, why: string): GatewayError {
  return new GatewayError(502, 'mcp_server_unavailable', `The MCP server \`${server}\` is unavailable (${why}). Other servers are not affected; retry later.`);
}

/** Why a call failed at the transport, in words safe to show (no URL, no headers). */
export function failureReason(err: unknown): string {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  if (code) return code;
  if (err instanceof McpError) return `error ${err.code}`;
  const status = (err as { code?: unknown }).code;
  return typeof status === 'number' && status > 0 ? `HTTP ${status}` : 'connection failed';
}

/**
 * One gateway session's connection to one upstream server: an MCP SDK Client over Streamable
 * HTTP (or SSE), opened lazily on first use, with the upstream session it gets. It declares the
 * client capabilities the gateway's own client declared, so the upstream can ask for sampling,
 * elicitation and roots; those requests and its notifications go to the session (`events`).
 */
export class UpstreamLink {
  readonly client: Client;
  private tools: Tool[] | undefined;
  private closedByUs = false;

  private constructor(
    readonly spec: McpServerSpec,
    capabilities: ClientCapabilities,
    private readonly events: LinkEvents,
  ) {
    this.client = new Client(GATEWAY_CLIENT, { capabilities });
    // Anything the upstream asks of the client goes to the gateway's client; the SDK gives each
    // side its own request ids, so the two id spaces never mix.
    this.client.fallbackRequestHandler = async (req) => this.events.request(spec.name, req);
    this.client.fallbackNotificationHandler = async (n) => this.events.notification(spec.name, n);
    this.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      this.tools = undefined;
      this.events.toolsChanged(spec.name);
    });
    this.client.onclose = () => {
      if (!this.closedByUs) this.events.closed(spec.name);
    };
  }

  static async open(spec: McpServerSpec, capabilities: ClientCapabilities, events: LinkEvents): Promise<UpstreamLink> {
    const link = new UpstreamLink(spec, capabilities, events);
    const url = new URL(spec.url);
    const requestInit = { headers: { ...spec.headers } };
    const transport = spec.transport === 'sse' ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
    try {
      await link.client.connect(transport, { timeout: spec.timeoutMs });
    } catch (err) {
      await link.close();
      throw unavailable(spec.name, failureReason(err));
    }
    return link;
  }

  get capabilities(): ServerCapabilities {
    return this.client.getServerCapabilities() ?? {};
  }

  /** Every tool (all pages), cached until the server says its list changed. */
  async listTools(): Promise<Tool[]> {
    if (this.tools) return this.tools;
    const all: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.listTools(cursor ? { cursor } : undefined, this.options());
      all.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor && all.length < 10_000);
    this.tools = all;
    return all;
  }

  forgetTools(): void {
    this.tools = undefined;
  }

  options(extra: RequestOptions = {}): RequestOptions {
    return { timeout: this.spec.timeoutMs, ...extra };
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    const t = this.client.transport;
    // Ends the upstream session (DELETE) where the transport supports it.
    if (t instanceof StreamableHTTPClientTransport && t.sessionId) await t.terminateSession().catch(() => undefined);
    await this.client.close().catch(() => undefined);
  }
}
