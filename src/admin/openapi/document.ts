import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../paths';
import { ADMIN_OPERATIONS, error, type AdminAuth, type AdminOperation, type ResponseDef } from './admin-operations';
import { ANTHROPIC_OPERATIONS, ANTHROPIC_PREFIX, anthropicSchemas, DOTNET_OPERATIONS, DOTNET_PREFIX, dotnetSchemas, EVENT_STREAM, LLM_OPERATIONS, LLM_PREFIXES, llmSchemas, type LlmOperation } from './llm-operations';
import { adminSchemas, type Schema } from './schemas';
import { MCP_OPERATIONS, mcpSchemas } from './mcp-operations';

/**
 * The gateway's OpenAPI 3.1 document, generated from the route tables (admin-operations.ts,
 * llm-operations.ts) and served at /openapi.json. test/e2e/openapi.test.ts keeps it true
 * against the running gateway; test/unit/openapi-lint.test.ts lints it with Redocly.
 */

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, Record<string, unknown>>> };

/** `/v1/keys/:id` (router) → `/v1/keys/{id}` (OpenAPI). */
export const openApiPath = (routerPath: string): string =>
  routerPath
    .split('/')
    .map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s))
    .join('/');

/** Admin credentials: a key with the admin role (three headers), or a JWT with `admin_auth.jwt`. */
const ADMIN_SECURITY = [{ ApiKey: [] }, { ApiKeyHeader: [] }, { AzureApiKey: [] }, { AdminJwt: [] }];
/** LLM callers: a virtual key (three headers), or a client certificate on the mTLS listener. */
const LLM_SECURITY = [{ ApiKey: [] }, { ApiKeyHeader: [] }, { AzureApiKey: [] }, { ClientCertificate: [] }];
/** Anthropic SDKs: the key in `x-api-key` (or as a bearer token), or a client certificate. */
const ANTHROPIC_SECURITY = [{ ApiKeyHeader: [] }, { ApiKey: [] }, { ClientCertificate: [] }];

const SECURITY_SCHEMES = {
  ApiKey: { type: 'http', scheme: 'bearer', description: 'A gateway API key (virtual key): `Authorization: Bearer sk-...`.' },
  ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in `X-API-Key` (`x-api-key`, as the Anthropic SDKs send it).' },
  AzureApiKey: { type: 'apiKey', in: 'header', name: 'api-key', description: 'The same key in `api-key` (Azure OpenAI SDKs).' },
  AdminJwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'With `admin_auth.jwt` configured: a JWT from your identity provider; its roles claim must hold `admin` for admin routes, and its `team` claim scopes it.',
  },
  ClientCertificate: { type: 'mutualTLS', description: 'On the mTLS listener: a client certificate whose identity the gateway allows (mtls-identity plugin).' },
};

const TAGS = [
  { name: 'OpenAI-compatible', description: 'The OpenAI API subset, routed to the configured providers. The same paths without `/v1` are served too.' },
  {
    name: ANTHROPIC_PREFIX.tag,
    description:
      "Anthropic's Messages API (Claude Code, the Anthropic SDKs) for every routed model, keyed by `x-api-key`; errors in Anthropic's shape (`AnthropicError`). See docs/agent-apis.md.",
  },
  { name: 'LangChain', description: 'The OpenAI-compatible endpoints for LangChain clients: `/v1/langchain` takes LangChain keys (`langchain-...`) only.' },
  {
    name: DOTNET_PREFIX.tag,
    description:
      "The earlier .NET gateway's API under `/api/v1`, for the clients built on it: requests in OpenAI's shape or the .NET DTO's (camelCase), answers OpenAI's objects with the DTO's camelCase fields added, errors in OpenAI's shape. `GET /api/v1/admin/usage` is under Usage.",
  },
  { name: 'Keys', description: 'Virtual keys (admin role).' },
  { name: 'Usage', description: 'Usage and request totals, scoped to what the caller may see.' },
  { name: 'Providers', description: 'Providers, changed at run time without restarting Envoy.' },
  { name: 'Security', description: 'Security settings and the audit log.' },
  { name: 'Operations', description: 'Health, metrics and this documentation.' },
  { name: 'MCP', description: 'Upstream MCP servers of the MCP gateway (`/mcp`, docs/mcp.md), changed at run time.' },
  {
    name: 'Console',
    description:
      'The admin console (a web page) and its sign-in session. A session cookie (`gw_console`, HttpOnly, SameSite=Strict) with the header `x-gateway-console: 1` stands for the admin credential it was opened with, on every admin route; see docs/console.md.',
  },
];

const AUTH_NOTES: Record<AdminAuth, string> = {
  public: '',
  caller: 'Any API key or token; what it sees follows its scope.',
  admin: 'Needs the admin role (a key with `roles: [admin]`, or a JWT whose roles claim has `admin`).',
  unscoped_admin: 'Needs the admin role and no team: the change applies to every team.',
  audit: 'Needs the admin role; with data isolation on, any caller with a team reads its team\'s records.',
};

const FORBIDDEN: Record<Exclude<AdminAuth, 'public'>, string> = {
  caller: 'The caller has no key or team whose records it may read',
  admin: 'The caller lacks the admin role, or a team admin acts beyond its team',
  unscoped_admin: 'The caller lacks the admin role, or is an admin of one team only',
  audit: 'The caller may not read audit records',
};

function responseObject(def: ResponseDef): Record<string, unknown> {
  const content: Record<string, Schema> | undefined = def.schema ? { 'application/json': def.schema } : def.content;
  return {
    description: def.description,
    ...(def.headers ? { headers: def.headers } : {}),
    ...(content ? { content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])) } : {}),
  };
}

/** The route's own answers, with those its authentication and body add. */
function adminResponses(op: AdminOperation): Record<number, ResponseDef> {
  const all: Record<number, ResponseDef> = {};
  if (op.auth !== 'public') {
    all[401] = {
      ...error(['missing_api_key', 'invalid_api_key', 'revoked_api_key', 'expired_api_key', 'invalid_token', 'expired_token', 'invalid_session'], 'No credentials, or unusable ones'),
      headers: { 'www-authenticate': { description: 'Sent for a JWT that could not be verified.', schema: { type: 'string' } } },
    };
    all[403] = error(['insufficient_permissions'], FORBIDDEN[op.auth]);
    all[503] = { ...error(['key_store_unavailable'], 'API keys cannot be checked right now'), headers: { 'retry-after': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } } } };
  }
  if (op.body) all[413] = error(['request_too_large'], 'The request body is larger than the admin API accepts (64 KiB)');
  all[500] = error(['internal_error'], 'The admin request failed');
  return { ...all, ...op.responses };
}

function adminOperation(op: AdminOperation): Record<string, unknown> {
  const pathParams = op.path
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));
  const parameters = [
    ...pathParams.map((name) => ({ name, in: 'path', required: true, description: op.params?.[name]?.description ?? name, schema: op.params?.[name]?.schema ?? { type: 'string' } })),
    ...(op.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: q.schema })),
  ];
  const note = AUTH_NOTES[op.auth];
  const description = [op.description, note].filter(Boolean).join('\n\n');
  const responses = adminResponses(op);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(description ? { description } : {}),
    security: op.auth === 'public' ? [] : ADMIN_SECURITY,
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: op.body.required, content: { 'application/json': { schema: op.body.schema } } } } : {}),
    responses: Object.fromEntries(Object.entries(responses).map(([status, def]) => [status, responseObject(def)])),
  };
}

function llmOperation(op: LlmOperation, prefix: { prefix: string; tag: string; idPrefix: string }, security = LLM_SECURITY): Record<string, unknown> {
  const id = prefix.idPrefix ? prefix.idPrefix + op.operationId[0].toUpperCase() + op.operationId.slice(1) : op.operationId;
  const parameters = [
    ...Object.entries(op.params ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } })),
    ...(op.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: q.schema })),
  ];
  const ok = responseObject(op.ok) as { content: Record<string, unknown> };
  if (op.streams) ok.content['text/event-stream'] = { schema: op.eventStream ?? EVENT_STREAM };
  return {
    operationId: id,
    tags: [prefix.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security,
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
    responses: { 200: ok, ...Object.fromEntries(Object.entries(op.errors).map(([status, def]) => [status, responseObject(def)])) },
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const DESCRIPTION = `An LLM API gateway: Envoy in front, an OpenAI-compatible API routed to the configured providers, and an admin API.

Every error has OpenAI's shape, \`{"error": {"message", "type", "param", "code"}}\` (schema \`Error\`); \`code\` is the stable part, and the codes are listed in docs/errors.md. The Anthropic paths (\`/v1/messages\`) answer Anthropic's \`{"type": "error", "error": {"type", "message"}}\` instead (schema \`AnthropicError\`). Every answer carries \`x-request-id\`.

The OpenAI-compatible paths are served under \`/v1\`, under \`/v1/langchain\` (LangChain keys only) and without a prefix (\`/chat/completions\`, ...).`;

/** Builds the document (see openApiDocument() for the one served). */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const put = (p: string, method: string, op: Record<string, unknown>) => ((paths[p] ??= {})[method.toLowerCase()] = op);
  for (const prefix of LLM_PREFIXES) for (const op of LLM_OPERATIONS) put(prefix.prefix + op.path, op.method, llmOperation(op, prefix));
  for (const op of DOTNET_OPERATIONS) put(DOTNET_PREFIX.prefix + op.path, op.method, llmOperation(op, DOTNET_PREFIX));
  for (const op of ANTHROPIC_OPERATIONS) put(ANTHROPIC_PREFIX.prefix + op.path, op.method, llmOperation(op, ANTHROPIC_PREFIX, ANTHROPIC_SECURITY));
  for (const op of [...ADMIN_OPERATIONS, ...MCP_OPERATIONS]) put(openApiPath(op.path), op.method, adminOperation(op));
  return {
    openapi: '3.1.0',
    info: {
      title: 'LLM Gateway API',
      version: packageVersion(),
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'This gateway' }],
    tags: TAGS,
    paths,
    components: { schemas: { ...adminSchemas(), ...mcpSchemas(), ...llmSchemas(), ...dotnetSchemas(), ...anthropicSchemas() }, securitySchemes: SECURITY_SCHEMES },
  };
}

let built: OpenApiDocument | undefined;
let serialized: string | undefined;

/** The document, built once. */
export function openApiDocument(): OpenApiDocument {
  return (built ??= buildOpenApiDocument());
}

/** The document as served (JSON, built and serialized once). */
export function openApiJson(): string {
  return (serialized ??= JSON.stringify(openApiDocument()));
}
