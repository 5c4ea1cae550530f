import { Type } from '@sinclair/typebox';
import { baseUrlProblem } from '../providers/base-url';
import { Closed, Default, StringEnum, type Defaulted } from '../config/schema-kit';

/**
 * The `mcp` section of gateway.yaml: the MCP gateway (`/mcp`), its upstream MCP servers and who
 * may use which of them. Kept here, next to the feature, like `mtls` in src/identity; schema.ts
 * only references it. Servers added through the admin API (/v1/mcp/servers) join these.
 *
 *   mcp:
 *     enabled: true
 *     servers:
 *       - name: github
 *         url: https://mcp.example.com/mcp
 *         credential_env: GITHUB_MCP_TOKEN     # sent as `authorization: Bearer …`
 *     access:
 *       - teams: [qa]
 *         servers: [github]
 *         tools: ['github__get_*']
 */

/** Server names prefix tool and prompt names (`<server>__<tool>`): no `__` inside, short and plain. */
export const MCP_SERVER_NAME = '^[a-z0-9](?:[a-z0-9-]|_(?!_)){0,31}$';
export const MCP_SERVER_NAME_RE = new RegExp(MCP_SERVER_NAME);
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

export const mcpServerSchema = Closed({
  name: Type.String({ pattern: MCP_SERVER_NAME }),
  url: Type.String({ pattern: '^https?://[^/\\s]+(/\\S*)?$' }),
  /** `sse`: the older HTTP+SSE transport (protocol 2024-11-05). */
  transport: Default(StringEnum(['streamable-http', 'sse']), 'streamable-http'),
  /** Extra headers sent upstream on every request (not secrets: use credential_env). */
  headers: Default(Type.Record(Type.String({ pattern: HEADER_NAME }), Type.String()), {}),
  /** Environment variable holding the server's credential; the caller never sees it. */
  credential_env: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
  /** Header the credential goes in; `authorization` sends `Bearer <credential>`. */
  credential_header: Default(Type.String({ pattern: HEADER_NAME }), 'authorization'),
  timeout_seconds: Default(Type.Number({ minimum: 1, maximum: 3600 }), 60),
});

/**
 * One access rule. It applies to a caller matching any of its `keys` (key ids), `teams` or
 * `identities` (mTLS identities), or to every caller when it names none. Patterns are globs
 * (`*` matches any run of characters). `tools` match the namespaced name (`<server>__<tool>`).
 */
export const mcpAccessRuleSchema = Closed({
  keys: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  teams: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  identities: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  servers: Default(Type.Array(Type.String({ minLength: 1 })), ['*']),
  tools: Default(Type.Array(Type.String({ minLength: 1 })), ['*']),
});

export const mcpSchema = Default(
  Closed({
    enabled: Default(Type.Boolean(), false),
    /** The processor's MCP front (Envoy routes `/mcp` there). */
    port: Default(Type.Integer({ minimum: 0, maximum: 65535 }), 9006),
    /** A session without requests for this long is ended (its upstream sessions too). */
    session_idle_seconds: Default(Type.Integer({ minimum: 10 }), 1800),
    /** Most open sessions; an initialize beyond it is refused with 503. */
    max_sessions: Default(Type.Integer({ minimum: 1 }), 10000),
    /** Most open sessions of one key or identity, so that one caller cannot take them all. */
    max_sessions_per_caller: Default(Type.Integer({ minimum: 1 }), 100),
    /** Envoy's idle timeout on `/mcp` streams (the GET stream may be quiet for long). */
    stream_idle_timeout_seconds: Default(Type.Integer({ minimum: 1 }), 3600),
    /** An audit record per tool call (when audit logging is on). */
    audit_tool_calls: Default(Type.Boolean(), true),
    servers: Default(Type.Array(mcpServerSchema), []),
    /** Empty: every authenticated caller may use every server and tool. */
    access: Default(Type.Array(mcpAccessRuleSchema), []),
  }),
  {},
);

export type McpServerConfig = Defaulted<typeof mcpServerSchema>;
export type McpAccessRule = Defaulted<typeof mcpAccessRuleSchema>;
export type McpConfig = Defaulted<typeof mcpSchema>;

/** What the JSON schema cannot say: unique server names. */
export function mcpProblems(mcp: McpConfig): string[] {
  const seen = new Set<string>();
  return mcp.servers.flatMap((s, i) => {
    if (seen.has(s.name)) return [`mcp.servers[${i}].name: duplicate server "${s.name}"`];
    seen.add(s.name);
    const url = mcpUrlProblem(s.url);
    return url ? [`mcp.servers[${i}].url ${url}`] : [];
  });
}

/** Why an MCP server's URL cannot be used (as a provider's base URL), or undefined. */
export const mcpUrlProblem = (url: string): string | undefined => baseUrlProblem(url, 'give it as credential_env in the configuration or credential through the admin API');
