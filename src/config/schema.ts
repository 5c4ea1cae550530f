import { DEFAULT_PLUGINS } from './defaults';
/**
 * JSON Schema for gateway.yaml. Ajv fills in the defaults, so the rest of the code reads a
 * complete GatewayConfig. Unknown keys are errors: a typo must not be silently ignored.
 */

import { mtlsSchema } from '../identity/config';
import { rateLimitsSchema } from '../ratelimit/config';
import { adminAuthSchema } from '../admin/jwt-config';

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;

const server = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    listen_address: { type: 'string', default: '0.0.0.0' },
    http_port: { ...port, default: 8080 },
    /** false: no plain listener (mesh deployments where only the mTLS listener is exposed). */
    http_enabled: { type: 'boolean', default: true },
    max_request_body_bytes: { type: 'integer', minimum: 1024, default: 10 * 1024 * 1024 },
    request_timeout_seconds: { type: 'number', minimum: 0, default: 600 },
    stream_idle_timeout_seconds: { type: 'number', minimum: 1, default: 300 },
    /** On SIGTERM/SIGINT: how long requests in flight get to finish before they are cut. */
    shutdown_grace_seconds: { type: 'number', minimum: 0, default: 30 },
  },
} as const;

const envoy = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    manage: { type: 'boolean', default: true },
    binary: { type: 'string' },
    admin_address: { type: 'string', default: '127.0.0.1' },
    admin_port: { ...port, default: 9901 },
    bootstrap_path: { type: 'string', default: 'envoy/envoy.generated.yaml' },
    log_level: {
      enum: ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'],
      default: 'warning',
    },
    concurrency: { type: 'integer', minimum: 1, default: 2 },
  },
} as const;

const processor = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    listen_address: { type: 'string', default: '127.0.0.1' },
    advertise_address: { type: 'string', default: '127.0.0.1' },
    grpc_port: { ...port, default: 9002 },
    admin_port: { ...port, default: 9003 },
    message_timeout_ms: { type: 'integer', minimum: 50, default: 10000 },
    // ext_proc served by this many processes (src/workers): more cores for the hot path.
    // 'auto': what the machine leaves beside Envoy's threads (config/load.ts autoWorkers).
    workers: { oneOf: [{ type: 'integer', minimum: 1, maximum: 64 }, { const: 'auto' }], default: 'auto' },
    ext_proc_port: { ...port, default: 9005 },
  },
} as const;

const logging = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
  },
} as const;

const provider = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'type', 'base_url'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    type: { type: 'string', minLength: 1 },
    base_url: { type: 'string', pattern: '^https?://[^/\\s]+(/\\S*)?$' },
    api_key: { type: 'string' },
    api_key_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    models: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    timeout_seconds: { type: 'number', minimum: 0, default: 0 },
  },
} as const;

const plugin = {
  type: 'object',
  additionalProperties: false,
  required: ['use'],
  properties: {
    use: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
    enabled: { type: 'boolean', default: true },
    options: { type: 'object', default: {} },
    timeout_ms: { type: 'integer', minimum: 1, default: 2000 },
    on_error: { enum: ['fail_open', 'fail_closed'], default: 'fail_closed' },
  },
} as const;

const demo = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    echo: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        port: { ...port, default: 9004 },
        chunk_delay_ms: { type: 'integer', minimum: 0, default: 20 },
      },
    },
  },
} as const;

const store = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    /** SQLite file and the generated encryption key live here. */
    data_dir: { type: 'string', default: 'data' },
    /** postgres://… to share keys and usage between replicas; defaults to $DATABASE_URL. */
    database_url: { type: 'string' },
  },
} as const;

const keySource = {
  type: 'object',
  required: ['id'],
  oneOf: [{ required: ['key'] }, { required: ['sha256'] }],
  properties: {
    key: { type: 'string', minLength: 8 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
  },
} as const;

const keys = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    /** keys.json in the original gateway's shape; defaults to $KEYS_FILE, else keys.json beside the config if present. */
    file: { type: 'string' },
    /** Inline keys, same shape as keys.json's virtual_keys: secret → settings. */
    entries: { type: 'object', default: {} },
    /** Keys for the admin API (role admin, plus completion and embedding). */
    admin: { type: 'array', items: keySource, default: [] },
    cache_ttl_ms: { type: 'integer', minimum: 0, maximum: 60000, default: 2000 },
  },
} as const;

const price = {
  type: 'object',
  additionalProperties: false,
  required: ['input', 'output'],
  properties: { input: { type: 'number', minimum: 0 }, output: { type: 'number', minimum: 0 }, cached_input: { type: 'number', minimum: 0 } },
} as const;

const pricing = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    models: { type: 'object', additionalProperties: price, default: {} },
    tier_multipliers: { type: 'object', additionalProperties: { type: 'number', minimum: 0 }, default: {} },
  },
} as const;

const usage = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    max_queue: { type: 'integer', minimum: 1, default: 100000 },
    batch_size: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
    flush_interval_ms: { type: 'integer', minimum: 1, default: 200 },
  },
} as const;

const deployment = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'model'],
  properties: {
    provider: { type: 'string', minLength: 1 },
    model: { type: 'string', minLength: 1 },
    weight: { type: 'number', minimum: 0, default: 1 },
  },
} as const;

/** A public model id: one provider model, or several weighted deployments of it. */
const modelMapping = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  oneOf: [{ required: ['provider', 'model'] }, { required: ['deployments'] }],
  properties: {
    id: { type: 'string', minLength: 1 },
    provider: { type: 'string', minLength: 1 },
    model: { type: 'string', minLength: 1 },
    deployments: { type: 'array', minItems: 1, items: deployment },
    display_name: { type: 'string' },
    context_window: { type: 'integer', minimum: 1 },
  },
} as const;

const fallback = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'fallback_models'],
  properties: {
    model: { type: 'string', minLength: 1 },
    fallback_models: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    /** HTTP statuses or error classes that trigger the next model. */
    on: {
      type: 'array',
      items: { anyOf: [{ type: 'integer', minimum: 400, maximum: 599 }, { enum: ['rate_limit_exceeded', 'server_error', 'timeout', 'connect_failure'] }] },
      default: [429, 500, 502, 503, 504, 'timeout', 'connect_failure'],
    },
  },
} as const;

const routing = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    /** Retries within one provider (same model), with backoff honouring retry-after. */
    retries: { type: 'integer', minimum: 0, maximum: 5, default: 1 },
    retry_on: { type: 'string', default: 'connect-failure,reset,retriable-status-codes' },
    retry_status_codes: { type: 'array', items: { type: 'integer', minimum: 400, maximum: 599 }, default: [429, 502, 503] },
    /** Per-attempt wait for response headers on fallback chains whose rule lists `timeout` (0 = none). */
    per_try_timeout_seconds: { type: 'number', minimum: 0, default: 60 },
  },
} as const;

/** Initial runtime security settings; GET/PUT /v1/security/config changes them at run time. */
const security = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    content_filtering_enabled: { type: 'boolean', default: true },
    audit_logging_enabled: { type: 'boolean', default: true },
    data_isolation_enabled: { type: 'boolean', default: false },
    content_filters: { type: 'array', default: [] },
  },
} as const;

export const gatewayConfigSchema = {
  $id: 'https://llm-gateway.local/schemas/gateway.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    server,
    envoy,
    processor,
    logging,
    providers: { type: 'array', items: provider, default: [] },
    // Without a plugins list the gateway runs the default chain, never an unauthenticated one.
    plugins: { type: 'array', items: plugin, default: DEFAULT_PLUGINS },
    demo,
    store,
    keys,
    pricing,
    usage,
    models: { type: 'array', items: modelMapping, default: [] },
    fallbacks: { type: 'array', items: fallback, default: [] },
    security,
    /** JWT bearer tokens for the admin API, besides admin keys (src/admin/jwt.ts). */
    admin_auth: adminAuthSchema,
    routing,
    mtls: mtlsSchema,
    rate_limits: rateLimitsSchema,
  },
} as const;
