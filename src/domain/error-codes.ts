/**
 * The catalogue of every error `code` the gateway sends to clients in OpenAI's error body
 * `{"error":{"message","type","param","code"}}`: its HTTP status(es), its OpenAI `type`, who
 * produces it and what it means. docs/errors.md renders it as tables.
 *
 * `source` says who produces a code:
 *   - `gateway`: the processor itself: the core, the built-in plugins, the providers' request
 *     translators (a request refused before any provider is called), the admin API and the
 *     RateLimitService (whose body Envoy sends as is);
 *   - `envoy`: Envoy's own local replies, rewritten to OpenAI JSON (src/envoy/config/local-reply.ts);
 *   - `provider`: a provider's error mapped to OpenAI's shape by its response translator
 *     (src/providers/<name>/response.ts); the status is the provider's.
 * A few codes are produced by more than one source; their entry lists every status and type.
 *
 * The type is what `GatewayError` and `errorBody` derive from the status (errorTypeForStatus)
 * unless the code passes one explicitly. test/unit/error-codes.test.ts scans src/** and plugins/**
 * and fails on a code missing here, an entry no longer sent, or a doc table out of step.
 *
 * Plugins may send codes of their own: GatewayError accepts any string, and ErrorCode only
 * offers the catalogue for autocompletion. This module imports nothing (the errors module
 * imports it), so OpenAI's error types are declared here.
 */

/** The `type` values of OpenAI's error body. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'api_error';

export type ErrorSource = 'gateway' | 'envoy' | 'provider';

/** OpenAI's error types (OpenAIErrorType), plus `insufficient_quota`, the type OpenAI sends with that code. */
export type ErrorCodeType = OpenAIErrorType | 'insufficient_quota';

export interface ErrorCodeInfo {
  /** The HTTP status it is sent with (several when its sources differ). */
  readonly status: number | readonly number[];
  /** The OpenAI error `type` sent with it. */
  readonly type: ErrorCodeType | readonly ErrorCodeType[];
  /** Who produces it. */
  readonly source: ErrorSource | readonly ErrorSource[];
  /** What it means, in one line. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  // The request itself (core, request-validation plugin, providers' request translators).
  method_not_allowed: {
    status: 405,
    type: 'invalid_request_error',
    source: 'gateway',
    meaning: 'The HTTP method is not allowed on this path: CONNECT, a method other than POST on an LLM endpoint or GET on /models, or one an admin API route does not take.',
  },
  invalid_path: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The request path contains `.` or `..` segments.' },
  invalid_url: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The admin API could not parse the request URL.' },
  invalid_encoding: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The request body is not valid UTF-8.' },
  invalid_json: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The request body is not valid JSON.' },
  invalid_request_body: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The request body is JSON but not a JSON object.' },
  missing_body: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'An LLM endpoint was called without a JSON body.' },
  missing_required_parameter: {
    status: 400,
    type: 'invalid_request_error',
    source: 'gateway',
    meaning: 'A required parameter is missing (`model`, a field the OpenAI schema requires, or one the provider needs); `param` names it.',
  },
  invalid_type: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'A parameter has the wrong JSON type; `param` names it.' },
  invalid_value: {
    status: 400,
    type: 'invalid_request_error',
    source: 'gateway',
    meaning: 'A parameter has a value that is not allowed (out of range, not one of the options, nested too deep, a malformed model name); `param` names it.',
  },
  empty_array: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'A parameter that needs at least one element is empty (`messages` for the Gemini API).' },
  unsupported_parameter: {
    status: 400,
    type: 'invalid_request_error',
    source: 'gateway',
    meaning: "A parameter (or a value of it) has no equivalent in the routed provider's API, so the gateway refuses it before calling the provider.",
  },
  unsupported_endpoint: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'The routed provider does not offer this endpoint (embeddings, responses...).' },
  content_filtered: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'A content filter rule blocked the request or the response.' },

  // Routing and access.
  unknown_url: {
    status: 404,
    // As OpenAI answers an unknown URL: a 404 of type invalid_request_error (errorType).
    type: 'invalid_request_error',
    source: ['gateway', 'envoy'],
    meaning: 'No endpoint at this method and path (the processor, the admin API, or Envoy when no route matches).',
  },
  model_not_found: {
    status: 404,
    type: 'not_found_error',
    source: ['gateway', 'provider'],
    meaning: 'The model does not exist or the caller may not see it (the gateway routes no such model, or Cohere answered 404 about the model).',
  },
  model_not_allowed: { status: 403, type: 'permission_error', source: 'gateway', meaning: "The caller's key or identity is not allowed to use this model." },
  provider_not_allowed: { status: 403, type: 'permission_error', source: 'gateway', meaning: "The caller's key or identity is not allowed to use the provider the model routes to." },
  provider_not_configured: { status: 503, type: 'server_error', source: 'gateway', meaning: 'The routed provider needs an API key and none is configured for this request.' },
  attempt_unroutable: { status: 503, type: 'server_error', source: 'gateway', meaning: 'The processor lost track of the request between its routing and its upstream attempt; retry it.' },
  upstream_error: {
    status: 502,
    type: 'server_error',
    source: ['gateway', 'envoy'],
    meaning: "Envoy could not reach the provider (502), or the provider's error body was not JSON (sent with the provider's own status, the type derived from it).",
  },

  // Authentication and authorisation (virtual-keys, mtls-identity and langchain plugins, admin API).
  missing_api_key: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'No API key in Authorization (Bearer), X-API-Key or api-key.' },
  invalid_api_key: {
    status: [401, 400],
    type: 'authentication_error',
    source: ['gateway', 'provider'],
    meaning: "The API key is not known to the gateway, or the provider refused the gateway's provider key (the Gemini API says so with a 400).",
  },
  revoked_api_key: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'The API key has been revoked.' },
  expired_api_key: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'The API key has expired.' },
  invalid_token: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'The admin API bearer token (JWT) could not be verified.' },
  expired_token: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'The admin API bearer token (JWT) has expired.' },
  invalid_session: { status: 401, type: 'authentication_error', source: 'gateway', meaning: 'The admin console session cookie names no live session (signed out, expired, or the gateway restarted); sign in again.' },
  key_store_unavailable: { status: 503, type: 'server_error', source: 'gateway', meaning: 'The key store cannot be reached to check the API key; retry shortly (retry-after: 1).' },
  insufficient_permissions: {
    status: 403,
    type: 'permission_error',
    source: 'gateway',
    meaning: 'The key lacks the role this endpoint needs, or an admin API caller lacks the admin role, acts beyond its team, or reads usage it may not see.',
  },
  identity_not_allowed: { status: 403, type: 'permission_error', source: 'gateway', meaning: 'The mTLS client certificate identity is not allowed to use the gateway.' },
  invalid_key_tier: { status: 403, type: 'permission_error', source: 'gateway', meaning: 'The LangChain endpoint accepts only LangChain keys (`langchain-...`).' },

  // Quotas and rate limits.
  insufficient_quota: {
    status: [429, 402],
    type: 'insufficient_quota',
    source: ['gateway', 'provider'],
    meaning: "The key or its team has used up its token or dollar budget (budgets and quota plugins, 429; a stream that spends the rest ends with it as an error event), or the provider account has no credit left (Cohere's 402).",
  },
  budget_unavailable: { status: 503, type: 'server_error', source: 'gateway', meaning: 'The budget ledger (Redis) cannot be reached to hold a budgeted request; retry shortly (retry-after: 1).' },
  rate_limit_exceeded: {
    status: 429,
    type: 'rate_limit_error',
    source: ['gateway', 'envoy', 'provider'],
    meaning: "A rate limit refused the request: the gateway's RateLimitService (with retry-after and x-ratelimit-* headers), Envoy, or the provider.",
  },

  // Plugin failures and internal errors.
  plugin_error: { status: 500, type: 'server_error', source: 'gateway', meaning: 'A plugin failed in a hook and its error policy is fail_closed.' },
  plugin_timeout: { status: 500, type: 'server_error', source: 'gateway', meaning: 'A plugin did not finish a hook within its timeout and its error policy is fail_closed.' },
  internal_error: {
    status: 500,
    type: 'server_error',
    source: ['gateway', 'envoy', 'provider'],
    meaning: "An unexpected failure: of the processor (ext_proc session or admin API), of Envoy, or the provider's INTERNAL error (Gemini API).",
  },

  // The MCP gateway (/mcp, src/mcp): sent as JSON-RPC errors with the code in `data.code` (docs/mcp.md).
  mcp_tool_not_allowed: { status: 403, type: 'permission_error', source: 'gateway', meaning: 'MCP: the access rules do not let this key, team or identity use the tool.' },
  mcp_server_not_allowed: { status: 403, type: 'permission_error', source: 'gateway', meaning: 'MCP: there is no MCP server of that name the caller may use.' },
  mcp_server_unavailable: { status: 502, type: 'server_error', source: 'gateway', meaning: 'MCP: the upstream MCP server cannot be reached or failed; the other servers are still served.' },
  mcp_server_timeout: { status: 504, type: 'server_error', source: 'gateway', meaning: "MCP: the upstream MCP server did not answer within its timeout_seconds." },
  mcp_session_required: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'MCP: a request other than initialize came without an Mcp-Session-Id header.' },
  mcp_session_not_found: { status: 404, type: 'not_found_error', source: 'gateway', meaning: "MCP: no session with this Mcp-Session-Id for this caller (ended, expired, or another caller's); initialize again." },
  mcp_session_limit: { status: 503, type: 'server_error', source: 'gateway', meaning: 'MCP: the gateway holds mcp.max_sessions sessions, or the caller mcp.max_sessions_per_caller, already; retry later (retry-after: 5).' },
  mcp_server_not_found: { status: 404, type: 'not_found_error', source: 'gateway', meaning: 'Admin API: no MCP server with this name.' },
  invalid_mcp_server: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the MCP server definition is invalid; `param` names the field.' },
  mcp_server_conflict: { status: 409, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the MCP server is defined in the configuration file and cannot be changed or removed through the API.' },
  mcp_access_rule_not_found: { status: 404, type: 'not_found_error', source: 'gateway', meaning: 'Admin API: no MCP access rule with this id.' },
  invalid_mcp_access_rule: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the MCP access rule is invalid; `param` names the field.' },
  mcp_access_rule_conflict: { status: 409, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the MCP access rule is defined in the configuration file and cannot be changed or removed through the API.' },

  // Admin API.
  key_not_found: { status: 404, type: 'not_found_error', source: 'gateway', meaning: 'Admin API: no key with this id.' },
  invalid_key_settings: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: "Admin API: the key's settings are invalid; `param` names the field." },
  key_conflict: { status: 409, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: a key with this id already exists, or the key is managed by the configuration file.' },
  provider_not_found: { status: 404, type: 'not_found_error', source: 'gateway', meaning: 'Admin API: no provider with this name; `GET /api/v1/models/provider/{name}`: no provider of that name the caller may use.' },
  invalid_provider: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the provider definition is invalid; `param` names the field.' },
  provider_conflict: { status: 409, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the provider is defined in the configuration file and cannot be changed or removed through the API.' },
  invalid_settings: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: the security settings body is not an object of valid settings; `param` names the setting.' },
  settings_store_unavailable: { status: 503, type: 'server_error', source: 'gateway', meaning: 'Admin API: the security settings cannot be stored right now; retry shortly (retry-after: 1).' },
  audit_store_unavailable: { status: 503, type: 'server_error', source: 'gateway', meaning: 'Admin API: the audit log cannot be read right now; retry shortly (retry-after: 1).' },
  invalid_parameter: { status: 400, type: 'invalid_request_error', source: 'gateway', meaning: 'Admin API: a query parameter (usage and audit filters, paging) is invalid; `param` names it.' },

  // HTTP-level refusals (Envoy's local replies, and the admin API's own listener).
  bad_request: { status: 400, type: 'invalid_request_error', source: ['gateway', 'envoy'], meaning: 'The HTTP request could not be parsed (Envoy, or the admin API server).' },
  request_too_large: {
    status: 413,
    type: 'invalid_request_error',
    source: ['gateway', 'envoy', 'provider'],
    meaning: 'The request body is larger than Envoy, the admin API or the provider accepts.',
  },
  request_headers_too_large: {
    status: 431,
    type: 'invalid_request_error',
    source: ['gateway', 'envoy'],
    meaning: 'The request headers (URL included) are larger than Envoy or the admin API accepts, or too many.',
  },
  forbidden: { status: 403, type: 'permission_error', source: 'envoy', meaning: 'Envoy refused a protocol upgrade the gateway does not offer (websocket, CONNECT).' },
  request_timeout: { status: 408, type: 'invalid_request_error', source: 'envoy', meaning: 'The client stopped sending the request before it was complete (stream idle timeout).' },
  uri_too_long: { status: 414, type: 'invalid_request_error', source: 'envoy', meaning: 'The request URL is longer than Envoy accepts.' },
  unsupported_http_version: { status: 426, type: 'invalid_request_error', source: 'envoy', meaning: 'The request is not HTTP/1.1 or HTTP/2.' },
  unsupported_transfer_encoding: { status: 400, type: 'invalid_request_error', source: 'envoy', meaning: 'A transfer-encoding Envoy does not implement (gzip...): send content-length or chunked.' },
  processor_unavailable: { status: 503, type: 'server_error', source: 'envoy', meaning: 'Envoy could not reach or use the gateway processor (ext_proc); retry shortly (retry-after: 1).' },
  rate_limit_unavailable: {
    status: 503,
    type: 'server_error',
    source: ['envoy', 'gateway'],
    meaning: 'Rate limits are fail_closed and the RateLimitService (or, for MCP tool calls, the counters) cannot be reached; retry shortly (retry-after: 1).',
  },
  service_unavailable: {
    status: 503,
    type: 'server_error',
    source: ['envoy', 'provider'],
    meaning: 'The service is unavailable: Envoy has no healthy upstream (or is overloaded), or the provider says so.',
  },
  timeout: { status: 504, type: 'server_error', source: ['envoy', 'provider'], meaning: 'The provider did not answer in time (Envoy route timeout, or the provider reports a deadline/timeout).' },

  // Providers' errors, mapped to OpenAI's shape by their response translators.
  invalid_request_error: {
    status: [400, 422],
    type: 'invalid_request_error',
    source: 'provider',
    meaning: 'The provider refused the request as invalid (Anthropic invalid_request_error, Cohere 400/422, other 4xx of Cohere).',
  },
  invalid_argument: { status: 400, type: 'invalid_request_error', source: 'provider', meaning: 'Gemini API INVALID_ARGUMENT: a field of the translated request is invalid.' },
  failed_precondition: { status: 400, type: 'invalid_request_error', source: 'provider', meaning: 'Gemini API FAILED_PRECONDITION: the request cannot be served as things stand (e.g. region or billing).' },
  out_of_range: { status: 400, type: 'invalid_request_error', source: 'provider', meaning: 'Gemini API OUT_OF_RANGE: a value is outside the range the API accepts.' },
  billing_error: { status: 402, type: 'invalid_request_error', source: 'provider', meaning: "Anthropic billing_error: a problem with the provider account's billing." },
  permission_denied: { status: 403, type: 'permission_error', source: 'provider', meaning: "The provider refused the gateway's provider key access to this resource." },
  not_found: { status: 404, type: 'not_found_error', source: 'provider', meaning: 'The provider has no such resource (often the model).' },
  request_cancelled: { status: 408, type: 'invalid_request_error', source: 'provider', meaning: "Cohere's 499: the request was cancelled (sent as 408)." },
  cancelled: { status: 499, type: 'server_error', source: 'provider', meaning: 'Gemini API CANCELLED: the provider cancelled the request.' },
  server_error: {
    status: 500,
    type: 'server_error',
    source: 'provider',
    meaning: 'The provider failed (Anthropic api_error, or a 5xx that Anthropic, Cohere or the Gemini API does not name).',
  },
  not_implemented: { status: 501, type: 'server_error', source: 'provider', meaning: "Cohere's 501: the provider does not implement what was asked." },
  unsupported: { status: 501, type: 'invalid_request_error', source: 'provider', meaning: 'Gemini API UNIMPLEMENTED: the operation or a feature of it is not supported.' },
  overloaded: { status: 529, type: 'server_error', source: 'provider', meaning: "Anthropic's overloaded_error (529): the provider is temporarily overloaded." },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;
