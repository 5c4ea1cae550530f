import { DOCS_ASSETS } from './assets';
import { ref, type Schema } from './schemas';

/**
 * Every admin API route, declared once: the router's routes (src/admin/*-api.ts, health.ts and
 * the docs routes) with what each takes and answers. The OpenAPI document is generated from this
 * table (document.ts); test/e2e/openapi.test.ts fails when a route the router serves is missing
 * here, or an entry here is not served, and checks real answers through Envoy against it.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call: nobody needs credentials (`public`); any key or token, each seeing what its
 * scope allows (`caller`); the admin role (`admin`); an admin without a team (`unscoped_admin`,
 * changes that apply to every team); the audit log's rule (`audit`).
 */
export type AdminAuth = 'public' | 'caller' | 'admin' | 'unscoped_admin' | 'audit';

export interface ResponseDef {
  description: string;
  /** A JSON body of this schema. */
  schema?: Schema;
  /** Other media types (media type → schema). */
  content?: Record<string, Schema>;
  headers?: Record<string, { description: string; schema: Schema }>;
}

export interface QueryParam {
  name: string;
  description: string;
  schema: Schema;
}

export interface AdminOperation {
  method: HttpMethod;
  /** As given to router.add(): `:name` segments are path parameters. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: AdminAuth;
  /** The path parameters, by name (a string unless `schema` says otherwise). */
  params?: Record<string, { description: string; schema?: Schema }>;
  query?: QueryParam[];
  /** The JSON request body's schema, when the route takes one. */
  body?: { schema: Schema; required: boolean };
  /** Success answers and the errors particular to this route (by status). */
  responses: Record<number, ResponseDef>;
}

/** An error answer: the OpenAI error body, with the codes it may carry. */
export const error = (codes: string[], what: string): ResponseDef => ({
  description: `${what} (\`code\`: ${codes.map((c) => `\`${c}\``).join(', ')}).`,
  schema: ref('Error'),
});

export const RETRY_AFTER = { 'retry-after': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } } };
const unavailable = (code: string, what: string): ResponseDef => ({ ...error([code], what), headers: RETRY_AFTER });

const TIME = { type: 'string', examples: ['2026-11-01', '2026-11-01T12:00:00Z', '1793491200'] };
const TIME_HELP = 'ISO 8601 date or date-time, or Unix time in seconds or milliseconds.';
/** The `start` and `end` query parameters of a report. */
const TIME_RANGE: QueryParam[] = [
  { name: 'start', description: `From this time (inclusive). ${TIME_HELP}`, schema: TIME },
  { name: 'end', description: `Until this time (exclusive). ${TIME_HELP}`, schema: TIME },
];
const INVALID_QUERY = error(['invalid_parameter'], 'A query parameter is invalid; `param` names it');
const SETTINGS_VERSION = {
  'x-gateway-settings-version': { description: 'The stored version of the settings shown (0 before any change was stored).', schema: { type: 'string', pattern: '^\\d+$' } },
};

const KEY_ID = { id: { description: 'The key id (`id` of a key, not its secret).' } };
const KEY_NOT_FOUND = error(['key_not_found'], 'No key with this id');
const INVALID_KEY_SETTINGS = error(['invalid_key_settings', 'invalid_json', 'invalid_value'], 'The settings are invalid; `param` names the field');

const PROVIDER_NAME = { name: { description: 'The provider name.' } };
const PROVIDER_NOT_FOUND = error(['provider_not_found'], 'No provider with this name');
const INVALID_PROVIDER = error(['invalid_provider', 'invalid_json', 'invalid_value'], 'The provider is invalid; `param` names the field');
/** The answers of adding or changing a provider. */
const PROVIDER_APPLIED: Record<number, ResponseDef> = {
  200: { description: 'The provider was changed.', schema: ref('AppliedProvider') },
  201: { description: 'The provider was added.', schema: ref('AppliedProvider') },
};

export const ADMIN_OPERATIONS: AdminOperation[] = [
  // ---- keys ----------------------------------------------------------------------------------
  {
    method: 'POST',
    path: '/v1/keys',
    operationId: 'createKey',
    tag: 'Keys',
    summary: 'Create a virtual key',
    description: 'The secret is in `key`, shown this once. A team admin creates keys of its own team only (a key without `team` gets it).',
    auth: 'admin',
    body: { schema: ref('KeySettings'), required: false },
    responses: {
      201: { description: 'The key, with its secret.', schema: ref('CreatedVirtualKey') },
      400: INVALID_KEY_SETTINGS,
      409: error(['key_conflict'], 'A key with the same id already exists'),
    },
  },
  {
    method: 'GET',
    path: '/v1/keys',
    operationId: 'listKeys',
    tag: 'Keys',
    summary: 'List virtual keys',
    description: 'Newest first, revoked keys included. A team admin sees its team\'s keys when data isolation is on.',
    auth: 'admin',
    query: [
      { name: 'team', description: 'Only the keys of this team.', schema: { type: 'string' } },
      { name: 'limit', description: 'A page of at most this many keys (100 when only `after` is given); without `limit` and `after`, every key.', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      { name: 'after', description: 'The page after this key: the `last_id` of the previous page.', schema: { type: 'string', maxLength: 200 } },
    ],
    responses: { 200: { description: 'The keys.', schema: ref('KeyList') }, 400: INVALID_QUERY },
  },
  {
    method: 'GET',
    path: '/v1/keys/:id',
    operationId: 'getKey',
    tag: 'Keys',
    summary: 'Get a virtual key',
    auth: 'admin',
    params: KEY_ID,
    responses: {
      200: { description: 'The key.', schema: ref('VirtualKey') },
      404: KEY_NOT_FOUND,
    },
  },
  ...(['PATCH', 'PUT'] as const).map(
    (method): AdminOperation => ({
      method,
      path: '/v1/keys/:id',
      operationId: method === 'PATCH' ? 'updateKey' : 'replaceKey',
      tag: 'Keys',
      summary: method === 'PATCH' ? 'Update a virtual key' : 'Update a virtual key (same as PATCH)',
      description: 'The fields given replace the stored ones; the others are kept. Keys from keys.json or the configuration follow their source and cannot be changed here.',
      auth: 'admin',
      params: KEY_ID,
      body: { schema: ref('KeySettings'), required: true },
      responses: {
        200: { description: 'The updated key.', schema: ref('VirtualKey') },
        400: INVALID_KEY_SETTINGS,
        404: KEY_NOT_FOUND,
        409: error(['key_conflict'], 'The key is managed by the configuration or keys.json'),
      },
    }),
  ),
  {
    method: 'DELETE',
    path: '/v1/keys/:id',
    operationId: 'revokeKey',
    tag: 'Keys',
    summary: 'Revoke a virtual key',
    description: 'The key stays listed, with `status: revoked`; requests with it are refused from now on.',
    auth: 'admin',
    params: KEY_ID,
    responses: {
      200: { description: 'The revoked key.', schema: ref('RevokedVirtualKey') },
      404: KEY_NOT_FOUND,
    },
  },

  // ---- usage ---------------------------------------------------------------------------------
  {
    method: 'GET',
    path: '/v1/usage',
    operationId: 'getUsage',
    tag: 'Usage',
    summary: 'Usage report',
    description:
      'Requests, tokens and cost, optionally grouped. Admins see everything (a team admin its team with data isolation on); other keys see their own key (their team with data isolation on).',
    auth: 'caller',
    query: [
      ...TIME_RANGE,
      { name: 'group_by', description: 'Group the totals: by key, user, team, model, provider, endpoint, or over time by UTC `day` (`YYYY-MM-DD`) or `hour` (`YYYY-MM-DDTHH:00:00Z`). Only groups with records are listed, ordered by group (null last). `hour` covers at most 31 days: a longer `start`..`end` is refused (`400 invalid_parameter`, `param: group_by`), as is an open range with more than 744 hours of records.', schema: { enum: ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour'] } },
      { name: 'limit', description: 'With `group_by` (JSON only): at most this many groups; the answer then has `has_more` and `next_offset`. Without it, every group.', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      { name: 'offset', description: 'With `limit`: skip this many groups (the previous answer\'s `next_offset`).', schema: { type: 'integer', minimum: 0, maximum: 1000000000, default: 0 } },
      { name: 'key_id', description: 'Only this key\'s usage (within what the caller may see).', schema: { type: 'string' } },
      { name: 'team', description: 'Only this team\'s usage (admins without a team).', schema: { type: 'string' } },
      { name: 'provider', description: 'Only this provider\'s usage.', schema: { type: 'string', maxLength: 256 } },
      { name: 'model', description: 'Only this model\'s usage (the model served, else the one requested).', schema: { type: 'string', maxLength: 256 } },
      { name: 'format', description: '`csv`: the report as a CSV download (a header line, then one line per group).', schema: { enum: ['json', 'csv'], default: 'json' } },
    ],
    responses: {
      200: { description: 'The report.', content: { 'application/json': ref('UsageReport'), 'text/csv': { type: 'string' } } },
      400: INVALID_QUERY,
    },
  },
  {
    method: 'GET',
    path: '/api/v1/admin/usage',
    operationId: 'getUsageDotnet',
    tag: 'Usage',
    summary: 'Usage report (the earlier .NET gateway\'s path)',
    description:
      'The report of `GET /v1/usage`, for clients of the earlier .NET gateway, from `startDate` to `endDate`. `endDate` is inclusive of its whole day: a date (`2023-01-31`), or midnight of one (`2023-01-31T00:00:00`, a .NET DateTime of a date), ends the range at the start of the next day (UTC); another date-time or a timestamp is the exclusive end. `group_by`, `key_id` and `team` work as on `/v1/usage`.',
    auth: 'admin',
    query: [
      { name: 'startDate', description: `From this time (inclusive), e.g. \`2023-01-01\`. ${TIME_HELP}`, schema: TIME },
      { name: 'endDate', description: `Until the end of this day (inclusive), e.g. \`2023-01-31\`; a date-time other than midnight is the exclusive end. ${TIME_HELP}`, schema: TIME },
      { name: 'group_by', description: 'Group the totals: by key, user, team, model, provider, endpoint, or over time by UTC `day` (`YYYY-MM-DD`) or `hour` (`YYYY-MM-DDTHH:00:00Z`). Only groups with records are listed.', schema: { enum: ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour'] } },
      { name: 'key_id', description: 'Only this key\'s usage (within what the caller may see).', schema: { type: 'string' } },
      { name: 'team', description: 'Only this team\'s usage (admins without a team).', schema: { type: 'string' } },
    ],
    responses: {
      200: { description: 'The report.', schema: ref('UsageReport') },
      400: error(['invalid_parameter'], 'A query parameter is invalid; `param` names it'),
    },
  },
  {
    method: 'GET',
    path: '/v1/metrics/summary',
    operationId: 'getMetricsSummary',
    tag: 'Usage',
    summary: 'Request totals',
    description: 'Totals over the usage the caller may see (as for /v1/usage).',
    auth: 'caller',
    responses: { 200: { description: 'The totals.', schema: ref('MetricsSummary') } },
  },

  // ---- providers -----------------------------------------------------------------------------
  {
    method: 'GET',
    path: '/v1/providers',
    operationId: 'listProviders',
    tag: 'Providers',
    summary: 'List providers',
    description: 'Those of the configuration file and those added through the API. Credentials are never shown.',
    auth: 'admin',
    responses: { 200: { description: 'The providers.', schema: ref('ProviderList') } },
  },
  {
    method: 'GET',
    path: '/v1/providers/:name',
    operationId: 'getProvider',
    tag: 'Providers',
    summary: 'Get a provider',
    auth: 'admin',
    params: PROVIDER_NAME,
    responses: {
      200: { description: 'The provider.', schema: ref('Provider') },
      404: PROVIDER_NOT_FOUND,
    },
  },
  {
    method: 'POST',
    path: '/v1/providers',
    operationId: 'putProvider',
    tag: 'Providers',
    summary: 'Add or change a provider',
    description: 'Applied to Envoy over xDS, without restart; it takes traffic within about 2 s. Providers of the configuration file cannot be changed.',
    auth: 'unscoped_admin',
    body: { schema: ref('NewProviderSpec'), required: true },
    responses: {
      ...PROVIDER_APPLIED,
      400: INVALID_PROVIDER,
      409: error(['provider_conflict'], 'The provider is defined in the configuration file, or no free name could be derived for it'),
    },
  },
  {
    method: 'PUT',
    path: '/v1/providers/:name',
    operationId: 'replaceProvider',
    tag: 'Providers',
    summary: 'Add or change a provider by name',
    description: 'As POST /v1/providers, but the body names the provider (the name in the path) and its type.',
    auth: 'unscoped_admin',
    params: PROVIDER_NAME,
    body: { schema: ref('ProviderSpec'), required: true },
    responses: {
      ...PROVIDER_APPLIED,
      400: INVALID_PROVIDER,
      409: error(['provider_conflict'], 'The provider is defined in the configuration file'),
    },
  },
  {
    method: 'DELETE',
    path: '/v1/providers/:name',
    operationId: 'deleteProvider',
    tag: 'Providers',
    summary: 'Remove a provider',
    description: 'Its models stop being served; requests in flight finish.',
    auth: 'unscoped_admin',
    params: PROVIDER_NAME,
    responses: {
      200: { description: 'The provider was removed.', schema: ref('DeletedProvider') },
      404: PROVIDER_NOT_FOUND,
      409: error(['provider_conflict'], 'The provider is defined in the configuration file'),
    },
  },

  // ---- security ------------------------------------------------------------------------------
  {
    method: 'GET',
    path: '/v1/security/config',
    operationId: 'getSecurityConfig',
    tag: 'Security',
    summary: 'Security settings in force',
    auth: 'admin',
    responses: { 200: { description: 'The settings.', schema: ref('SecuritySettings'), headers: SETTINGS_VERSION } },
  },
  {
    method: 'PUT',
    path: '/v1/security/config',
    operationId: 'updateSecurityConfig',
    tag: 'Security',
    summary: 'Change security settings',
    description:
      'Merged onto the settings in force, validated (the content filter checks its rule sets), stored for every replica and applied before the answer. A refused change changes nothing. Recorded in the audit log.',
    auth: 'unscoped_admin',
    body: { schema: ref('SecuritySettingsChange'), required: true },
    responses: {
      200: { description: 'The settings now in force.', schema: ref('SecuritySettings'), headers: SETTINGS_VERSION },
      400: error(['invalid_settings', 'invalid_json', 'invalid_value'], 'The settings are invalid; `param` names the setting'),
      503: unavailable('settings_store_unavailable', 'The settings cannot be stored, or API keys cannot be checked, right now'),
    },
  },
  {
    method: 'GET',
    path: '/v1/audit',
    operationId: 'listAuditRecords',
    tag: 'Security',
    summary: 'Audit log',
    description:
      'Newest first. Admins only; with data isolation on, an admin with a team, and any caller with a team, see the records of that team.',
    auth: 'audit',
    query: [
      ...TIME_RANGE,
      { name: 'action', description: 'Only this action.', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$', examples: ['key.revoked'] } },
      { name: 'team', description: 'Only records of this team\'s actors.', schema: { type: 'string', maxLength: 200 } },
      { name: 'request_id', description: 'Only records of this request (its x-request-id).', schema: { type: 'string', maxLength: 200 } },
      { name: 'limit', description: 'At most this many records.', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      { name: 'before', description: 'The next page: the `next_cursor` of the previous one.', schema: { type: 'string', maxLength: 400 } },
    ],
    responses: {
      200: { description: 'The records.', schema: ref('AuditList') },
      400: INVALID_QUERY,
      503: unavailable('audit_store_unavailable', 'The audit log cannot be read, or API keys cannot be checked, right now'),
    },
  },

  // ---- operations ----------------------------------------------------------------------------
  {
    method: 'GET',
    path: '/health',
    operationId: 'getHealth',
    tag: 'Operations',
    summary: 'Health of the gateway',
    description: 'The processor, Envoy and each provider (credential, outlier ejection, circuit breakers).',
    auth: 'public',
    responses: {
      200: { description: 'Healthy.', schema: ref('Health') },
      503: { description: 'Envoy is not ready or cannot be reached.', schema: ref('Health') },
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'getMetrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    auth: 'public',
    responses: {
      200: { description: 'Metrics in the Prometheus text format (0.0.4).', content: { 'text/plain': { type: 'string' } } },
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tag: 'Operations',
    summary: 'This OpenAPI document',
    auth: 'public',
    responses: { 200: { description: 'The OpenAPI 3.1 document of the gateway.', schema: { type: 'object', required: ['openapi', 'info', 'paths'], properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } } } } },
  },
  {
    method: 'GET',
    path: '/docs',
    operationId: 'getApiDocs',
    tag: 'Operations',
    summary: 'API documentation (Swagger UI)',
    auth: 'public',
    responses: { 200: { description: 'The Swagger UI page for this document.', content: { 'text/html': { type: 'string' } } } },
  },
  {
    method: 'GET',
    path: '/docs/:asset',
    operationId: 'getApiDocsAsset',
    tag: 'Operations',
    summary: 'Swagger UI asset',
    auth: 'public',
    params: { asset: { description: 'A file of the Swagger UI page.', schema: { enum: Object.keys(DOCS_ASSETS) } } },
    responses: {
      200: { description: 'The file.', content: { 'text/css': { type: 'string' }, 'text/javascript': { type: 'string' } } },
      404: error(['unknown_url'], 'No such file'),
    },
  },

  // ---- console -------------------------------------------------------------------------------
  {
    method: 'GET',
    path: '/console',
    operationId: 'getConsole',
    tag: 'Console',
    summary: 'Admin console (web page)',
    description: 'Served under a Content-Security-Policy without inline script; its scripts call this API with the session cookie.',
    auth: 'public',
    responses: {
      200: { description: 'The console page.', content: { 'text/html': { type: 'string' } } },
      404: error(['unknown_url'], 'The console was not built'),
    },
  },
  {
    method: 'GET',
    path: '/console/:asset',
    operationId: 'getConsoleAsset',
    tag: 'Console',
    summary: 'Admin console file',
    description: 'A script or stylesheet of the console; its name carries a hash of its content, so it is cached for good.',
    auth: 'public',
    params: { asset: { description: 'A file of the console, e.g. `app-5C2TQX3K.js`.', schema: { type: 'string', pattern: '^[\\w.-]+$' } } },
    responses: {
      200: { description: 'The file.', content: { 'text/css': { type: 'string' }, 'text/javascript': { type: 'string' } } },
      404: error(['unknown_url'], 'No such file'),
    },
  },
  {
    method: 'POST',
    path: '/console/session',
    operationId: 'openConsoleSession',
    tag: 'Console',
    summary: 'Sign in to the console',
    description:
      'Takes the admin key or JWT in the Authorization header (as every admin route does; a session cookie does not count) and sets the session cookie `gw_console` (HttpOnly, SameSite=Strict, Path=/, Secure over TLS). The session ends after `admin_auth.console.session_ttl_seconds` (8 hours by default), `admin_auth.console.idle_timeout_seconds` unused (1 hour), at the JWT\'s `exp`, on sign-out, or as soon as its credential is refused (a revoked key, an expired token).',
    auth: 'admin',
    responses: {
      201: {
        description: 'Signed in; the cookie is set.',
        schema: ref('ConsoleSession'),
        headers: { 'set-cookie': { description: 'The session cookie.', schema: { type: 'string' } } },
      },
    },
  },
  {
    method: 'GET',
    path: '/console/session',
    operationId: 'getConsoleSession',
    tag: 'Console',
    summary: 'Who is signed in',
    auth: 'admin',
    responses: { 200: { description: 'The caller; `expires_at` when it presented a session.', schema: ref('ConsoleSession') } },
  },
  {
    method: 'DELETE',
    path: '/console/session',
    operationId: 'closeConsoleSession',
    tag: 'Console',
    summary: 'Sign out of the console',
    description: 'Ends the session the cookie names (with `x-gateway-console: 1`) and clears the cookie.',
    auth: 'public',
    responses: {
      200: {
        description: 'Signed out.',
        schema: { type: 'object', required: ['object', 'signed_out'], additionalProperties: false, properties: { object: { const: 'console.session' }, signed_out: { const: true } } },
        headers: { 'set-cookie': { description: 'Clears the session cookie.', schema: { type: 'string' } } },
      },
      401: { ...error(['invalid_session'], 'No live session named by the cookie (the cookie is cleared all the same)'), headers: { 'set-cookie': { description: 'Clears the session cookie.', schema: { type: 'string' } } } },
    },
  },
];
