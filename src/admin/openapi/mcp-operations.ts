import { error, type AdminOperation, type ResponseDef } from './admin-operations';
import { closed, ref, type Schema } from './schemas';

/** The MCP gateway's admin routes (src/mcp/admin-api.ts) and their schemas; see docs/mcp.md. */

const NAME = { name: { description: 'The MCP server name (the `<server>` of `<server>__<tool>`).' } };
const NOT_FOUND = error(['mcp_server_not_found'], 'No MCP server with this name');
const INVALID = error(['invalid_mcp_server', 'invalid_json', 'invalid_value'], 'The MCP server is invalid; `param` names the field');
const CONFLICT = error(['mcp_server_conflict'], 'The MCP server is defined in the configuration file');
const WRITTEN: Record<number, ResponseDef> = {
  200: { description: 'The MCP server was changed; sessions reconnect to it on next use.', schema: ref('McpServer') },
  201: { description: 'The MCP server was added; it serves at once, every replica within 2 s.', schema: ref('McpServer') },
};

export const MCP_OPERATIONS: AdminOperation[] = [
  {
    method: 'GET',
    path: '/v1/mcp/servers',
    operationId: 'listMcpServers',
    tag: 'MCP',
    summary: 'List upstream MCP servers',
    description: 'Those of the configuration file and those added through the API. Credentials and header values are never shown.',
    auth: 'admin',
    responses: { 200: { description: 'The servers.', schema: ref('McpServerList') } },
  },
  {
    method: 'GET',
    path: '/v1/mcp/servers/:name',
    operationId: 'getMcpServer',
    tag: 'MCP',
    summary: 'Get an upstream MCP server',
    auth: 'admin',
    params: NAME,
    responses: { 200: { description: 'The server.', schema: ref('McpServer') }, 404: NOT_FOUND },
  },
  {
    method: 'POST',
    path: '/v1/mcp/servers',
    operationId: 'putMcpServer',
    tag: 'MCP',
    summary: 'Add or replace an upstream MCP server',
    auth: 'unscoped_admin',
    body: { schema: ref('NewMcpServerSpec'), required: true },
    responses: { ...WRITTEN, 400: INVALID, 409: CONFLICT },
  },
  {
    method: 'PUT',
    path: '/v1/mcp/servers/:name',
    operationId: 'replaceMcpServer',
    tag: 'MCP',
    summary: 'Add or replace an upstream MCP server by name',
    auth: 'unscoped_admin',
    params: NAME,
    body: { schema: ref('McpServerSpec'), required: true },
    responses: { ...WRITTEN, 400: INVALID, 409: CONFLICT },
  },
  {
    method: 'PATCH',
    path: '/v1/mcp/servers/:name',
    operationId: 'changeMcpServer',
    tag: 'MCP',
    summary: 'Change some fields of an upstream MCP server',
    description: 'Fields left out keep their values (the credential too).',
    auth: 'unscoped_admin',
    params: NAME,
    body: { schema: ref('McpServerPatch'), required: true },
    responses: { 200: WRITTEN[200], 400: INVALID, 404: NOT_FOUND, 409: CONFLICT },
  },
  {
    method: 'DELETE',
    path: '/v1/mcp/servers/:name',
    operationId: 'deleteMcpServer',
    tag: 'MCP',
    summary: 'Remove an upstream MCP server',
    description: 'Its tools disappear from every session at once (clients get notifications/tools/list_changed).',
    auth: 'unscoped_admin',
    params: NAME,
    responses: { 200: { description: 'The server was removed.', schema: ref('DeletedMcpServer') }, 404: NOT_FOUND, 409: CONFLICT },
  },
  ...accessOperations(),
];

function accessOperations(): AdminOperation[] {
  const ID = { id: { description: 'The rule id (`mcpa_…`, or `config-<n>` for the n-th rule of `mcp.access`).' } };
  const missing = error(['mcp_access_rule_not_found'], 'No MCP access rule with this id');
  const invalid = error(['invalid_mcp_access_rule', 'invalid_json'], 'The rule is invalid; `param` names the field');
  const conflict = error(['mcp_access_rule_conflict'], 'The rule is defined in the configuration file');
  return [
    {
      method: 'GET',
      path: '/v1/mcp/access',
      operationId: 'listMcpAccessRules',
      tag: 'MCP',
      summary: 'List MCP access rules',
      description: 'Those of the configuration file (`source: config`) and those added through the API. A caller may use what any rule that applies to it allows; no rules at all: everything.',
      auth: 'admin',
      responses: { 200: { description: 'The rules.', schema: ref('McpAccessRuleList') } },
    },
    {
      method: 'GET',
      path: '/v1/mcp/access/:id',
      operationId: 'getMcpAccessRule',
      tag: 'MCP',
      summary: 'Get an MCP access rule',
      auth: 'admin',
      params: ID,
      responses: { 200: { description: 'The rule.', schema: ref('McpAccessRule') }, 404: missing },
    },
    {
      method: 'POST',
      path: '/v1/mcp/access',
      operationId: 'addMcpAccessRule',
      tag: 'MCP',
      summary: 'Add an MCP access rule',
      description: 'In force at once in every session here (clients get notifications/tools/list_changed), on every replica within 2 s; kept across restarts and configuration reloads.',
      auth: 'unscoped_admin',
      body: { schema: ref('McpAccessRuleSpec'), required: true },
      responses: { 201: { description: 'The rule was added.', schema: ref('McpAccessRule') }, 400: invalid },
    },
    {
      method: 'PUT',
      path: '/v1/mcp/access/:id',
      operationId: 'replaceMcpAccessRule',
      tag: 'MCP',
      summary: 'Replace an MCP access rule',
      auth: 'unscoped_admin',
      params: ID,
      body: { schema: ref('McpAccessRuleSpec'), required: true },
      responses: { 200: { description: 'The rule was replaced.', schema: ref('McpAccessRule') }, 400: invalid, 404: missing, 409: conflict },
    },
    {
      method: 'DELETE',
      path: '/v1/mcp/access/:id',
      operationId: 'deleteMcpAccessRule',
      tag: 'MCP',
      summary: 'Remove an MCP access rule',
      auth: 'unscoped_admin',
      params: ID,
      responses: { 200: { description: 'The rule was removed.', schema: ref('DeletedMcpAccessRule') }, 404: missing, 409: conflict },
    },
  ];
}

const PATTERNS: Schema = { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Glob patterns: `*` matches any run of characters.' };
const RULE_FIELDS: Record<string, Schema> = {
  keys: { ...PATTERNS, description: 'Key ids the rule applies to (globs).' },
  teams: { ...PATTERNS, description: 'Teams the rule applies to (keys and certificate identities of the team).' },
  identities: { ...PATTERNS, description: 'mTLS certificate identities the rule applies to. No keys, teams or identities: the rule applies to every caller.' },
  servers: { ...PATTERNS, description: 'Servers the rule allows (default `*`).' },
  tools: { ...PATTERNS, description: 'Tools the rule allows, by namespaced name `<server>__<tool>` (default `*`).' },
  description: { type: ['string', 'null'], maxLength: 500 },
};

const SPEC_FIELDS: Record<string, Schema> = {
  name: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]|_(?!_)){0,31}$' },
  url: { type: 'string', description: 'The server\'s Streamable HTTP endpoint (or, for `sse`, its event stream URL).' },
  transport: { enum: ['streamable-http', 'sse'], default: 'streamable-http' },
  headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra headers sent upstream (their values are never shown).' },
  credential: { type: 'string', description: 'The server\'s credential, or `env:NAME`; stored encrypted, never shown.' },
  credential_header: { type: 'string', default: 'authorization', description: '`authorization` sends `Bearer <credential>`; any other header gets the credential as is.' },
  timeout_seconds: { type: 'number', minimum: 1, maximum: 3600, default: 60 },
};
const spec = (required: string[], description: string): Schema => ({ type: 'object', description, required, properties: SPEC_FIELDS, additionalProperties: false });

export function mcpSchemas(): Record<string, Schema> {
  return {
    McpServer: closed({
      name: { type: 'string' },
      url: { type: 'string' },
      transport: { enum: ['streamable-http', 'sse'] },
      header_names: { type: 'array', items: { type: 'string' } },
      has_credential: { type: 'boolean' },
      credential_header: { type: 'string' },
      timeout_seconds: { type: 'number' },
      available: { type: 'boolean', description: 'False when its credential cannot be had (an unset variable).' },
      source: { enum: ['config', 'api'] },
    }),
    McpServerList: closed({ object: { const: 'list' }, data: { type: 'array', items: ref('McpServer') } }),
    NewMcpServerSpec: spec(['name', 'url'], 'An upstream MCP server.'),
    McpServerSpec: spec(['url'], 'An upstream MCP server; `name`, if given, must be the one in the path.'),
    McpServerPatch: spec([], 'The fields to change.'),
    DeletedMcpServer: closed({ name: { type: 'string' }, deleted: { const: true } }),
    McpAccessRuleSpec: { type: 'object', description: 'Who (keys, teams, identities) may use which servers and tools.', properties: RULE_FIELDS, additionalProperties: false },
    McpAccessRule: { type: 'object', required: ['id', 'servers', 'tools', 'source'], properties: { id: { type: 'string' }, ...RULE_FIELDS, source: { enum: ['config', 'api'] } }, additionalProperties: false },
    McpAccessRuleList: closed({ object: { const: 'list' }, data: { type: 'array', items: ref('McpAccessRule') } }),
    DeletedMcpAccessRule: closed({ id: { type: 'string' }, deleted: { const: true } }),
  };
}
