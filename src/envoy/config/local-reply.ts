/**
 * Envoy's own local replies (413 body too large, 503 no upstream or processor down, 504
 * timeout, ...) are plain text; OpenAI clients expect JSON. These mappers rewrite them into
 * `{"error":{"message","type","param","code"}}`. The processor's immediate responses are local
 * replies too, but they already carry JSON: they are recognised by their response code details
 * (`gateway_*`) and left alone.
 */

interface MapperSpec {
  status: number;
  type: string;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

const SPECS: MapperSpec[] = [
  { status: 400, type: 'invalid_request_error', code: 'bad_request', message: 'The request could not be parsed: %LOCAL_REPLY_BODY%' },
  // Envoy's own 403s refuse protocol upgrades (websocket, CONNECT) the gateway does not offer.
  { status: 403, type: 'permission_error', code: 'forbidden', message: 'The gateway does not accept this request (%RESPONSE_CODE_DETAILS%).' },
  { status: 404, type: 'invalid_request_error', code: 'unknown_url', message: 'Unknown request URL: %REQ(:METHOD)% %REQ(:PATH)%' },
  // The client stopped sending mid-request (stream_idle_timeout).
  { status: 408, type: 'invalid_request_error', code: 'request_timeout', message: 'The request was not received in time.' },
  { status: 413, type: 'invalid_request_error', code: 'request_too_large', message: 'The request body is larger than the gateway accepts.' },
  { status: 414, type: 'invalid_request_error', code: 'uri_too_long', message: 'The request URL is longer than the gateway accepts.' },
  { status: 426, type: 'invalid_request_error', code: 'unsupported_http_version', message: 'The gateway accepts HTTP/1.1 and HTTP/2 requests.' },
  // HTTP codec limits: headers (URL included) over max_request_headers_kb, or too many of them.
  { status: 431, type: 'invalid_request_error', code: 'request_headers_too_large', message: 'The request headers are larger than the gateway accepts.' },
  {
    status: 429,
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests. Please retry after a short wait.',
    headers: { 'retry-after': '1' },
  },
  { status: 500, type: 'server_error', code: 'internal_error', message: 'The gateway failed to process the request (%RESPONSE_CODE_DETAILS%).' },
  { status: 502, type: 'server_error', code: 'upstream_error', message: 'The provider could not be reached: %LOCAL_REPLY_BODY%' },
  { status: 503, type: 'server_error', code: 'service_unavailable', message: 'The service is unavailable (%RESPONSE_CODE_DETAILS%).' },
  { status: 504, type: 'server_error', code: 'timeout', message: 'The provider did not answer in time.' },
];

/**
 * The local reply body as it is (a JSON error someone else wrote). `text_format_source`, not the
 * deprecated `text_format`, which Envoy warns about at every start.
 */
const passThroughBody = () => ({ text_format_source: { inline_string: '%LOCAL_REPLY_BODY%' }, content_type: 'application/json' });

function statusFilter(code: number): object {
  return { status_code_filter: { comparison: { op: 'EQ', value: { default_value: code, runtime_key: `local_reply.status_${code}` } } } };
}

/** Matches local replies whose response code details contain `marker`. */
export function detailsFilter(marker: string): object {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter',
        expression: `response.code_details.contains('${marker}')`,
      },
    },
  };
}

/** Paths whose clients speak Anthropic Messages (src/surfaces/anthropic): their local replies take its error shape. */
export const ANTHROPIC_PATH_PREFIX = '/v1/messages';

/** Anthropic's error `type` for an HTTP status (its docs' "HTTP errors"). */
function anthropicType(status: number | undefined): string {
  const types: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 504: 'timeout_error' };
  if (status === undefined) return 'api_error';
  return types[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

type Mapper = { filter: object; status_code?: number; body_format_override?: { json_format?: { error?: { message?: string } } } | object } & Record<string, unknown>;

/**
 * The same mapper for a Messages path, with Anthropic's `{"type":"error","error":{type,message}}`.
 * A pass-through one (the RateLimitService's OpenAI body) gets a fixed message instead.
 */
function forAnthropic(m: Mapper, status: number | undefined): object {
  const format = m.body_format_override as { json_format?: { error?: { message?: string } } } | undefined;
  const message = format?.json_format?.error?.message ?? 'Rate limit reached for requests. Please retry after a short wait.';
  return {
    ...m,
    filter: { and_filter: { filters: [m.filter, { header_filter: { header: { name: ':path', string_match: { prefix: ANTHROPIC_PATH_PREFIX } } } }] } },
    body_format_override: { json_format: { type: 'error', error: { type: anthropicType(status), message } }, content_type: 'application/json' },
  };
}

export function localReplyConfig(processorDetailsMarker = 'gateway_'): object {
  const mappers = openAIMappers();
  const anthropic = mappers.map(({ mapper, status }) => forAnthropic(mapper, status));
  // Any other Envoy reply on a Messages path (the catch-all below is OpenAI's).
  anthropic.push(forAnthropic({ filter: { header_filter: { header: { name: ':path', string_match: { prefix: ANTHROPIC_PATH_PREFIX } } } }, body_format_override: { json_format: { error: { message: '%LOCAL_REPLY_BODY%' } } } }, 500));
  return {
    mappers: [
      // The processor's own replies are already in the client's shape: keep them byte for byte.
      { filter: detailsFilter(processorDetailsMarker), body_format_override: passThroughBody() },
      ...anthropic,
      ...mappers.map((m) => m.mapper),
    ],
    // Any other Envoy-generated reply: JSON too.
    body_format: {
      json_format: { error: { message: '%LOCAL_REPLY_BODY%', type: 'server_error', param: null, code: '%RESPONSE_CODE_DETAILS%' } },
      content_type: 'application/json',
    },
  };
}

/** OpenAI-shaped mappers, each with the status the client gets (undefined: the reply's own). */
function openAIMappers(): Array<{ mapper: Mapper; status: number | undefined }> {
  const mapper = (s: MapperSpec): Mapper => ({
    filter: statusFilter(s.status),
    ...(s.headers
      ? { headers_to_add: Object.entries(s.headers).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })) }
      : {}),
    body_format_override: {
      json_format: { error: { message: s.message, type: s.type, param: null, code: s.code } },
      content_type: 'application/json',
    },
  });
  return [
    // ext_proc could not reach or use the processor (status_on_error makes it a 503).
    {
      status: 503,
      mapper: {
        filter: detailsFilter('ext_proc'),
        status_code: 503,
        headers_to_add: [{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        body_format_override: {
          json_format: {
            error: { message: 'The gateway request processor is unavailable. Please retry shortly.', type: 'server_error', param: null, code: 'processor_unavailable' },
          },
          content_type: 'application/json',
        },
      },
    },
    // The global rate limit filter refused: the RateLimitService wrote the OpenAI error body
    // (and retry-after, x-ratelimit-* headers); keep it.
    {
      status: 429,
      mapper: {
        filter: detailsFilter('request_rate_limited'),
        body_format_override: passThroughBody(),
      },
    },
    // fail_closed and the RateLimitService unreachable: refused, and worth a retry.
    {
      status: 503,
      mapper: {
        filter: detailsFilter('rate_limiter_error'),
        status_code: 503,
        headers_to_add: [{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        body_format_override: {
          json_format: {
            error: { message: 'Rate limits cannot be checked right now. Please retry shortly.', type: 'server_error', param: null, code: 'rate_limit_unavailable' },
          },
          content_type: 'application/json',
        },
      },
    },
    // A transfer coding Envoy does not implement (`transfer-encoding: gzip`): HTTP says 501,
    // but the fault is the client's, and clients should see a 4xx they can fix.
    {
      status: 400,
      mapper: {
        filter: detailsFilter('invalid_transfer_encoding'),
        status_code: 400,
        body_format_override: {
          json_format: {
            error: { message: 'Unsupported transfer-encoding: send the body with content-length or chunked.', type: 'invalid_request_error', param: null, code: 'unsupported_transfer_encoding' },
          },
          content_type: 'application/json',
        },
      },
    },
    ...SPECS.map((s) => ({ status: s.status, mapper: mapper(s) })),
  ];
}
