/**
 * JSON Schema for gateway.yaml, and through it the configuration's TypeScript types
 * (./types.ts derives each one with `Defaulted<typeof schema>`: nothing is declared twice).
 * Ajv fills in the defaults, so the rest of the code reads a complete GatewayConfig. Unknown
 * keys are errors: a typo must not be silently ignored.
 */

import { Type } from '@sinclair/typebox';
import type { JsonValue } from '../domain';
import type { KeySpec } from '../keys/schema';
import { DEFAULT_PLUGINS } from './defaults';
import { Closed, Constant, Default, MapOf, OneOf, OpenArray, OpenObject, StringEnum } from './schema-kit';
import { mtlsSchema } from '../identity/config';
import { mcpSchema } from '../mcp/config';
import { rateLimitsSchema } from '../ratelimit/config';
import { budgetsSchema } from '../budgets/config';
import { adminAuthSchema } from '../admin/jwt-config';

const port = () => Type.Integer({ minimum: 0, maximum: 65535 });

export const serverSchema = Default(
  Closed({
    /** Address Envoy's HTTP listener binds. */
    listen_address: Default(Type.String(), '0.0.0.0'),
    /** The public listener's port; $SERVER_PORT overrides it. */
    http_port: Default(port(), 8080),
    /** false: no plain listener (mesh deployments where only the mTLS listener is exposed). */
    http_enabled: Default(Type.Boolean(), true),
    /** Largest request body accepted; larger bodies get a JSON 413 from Envoy. */
    max_request_body_bytes: Default(Type.Integer({ minimum: 1024 }), 10 * 1024 * 1024),
    /**
     * Whole-request timeout for LLM routes (streams included), answered with an OpenAI-shaped
     * 504; it also caps a provider's own timeout_seconds. 0 disables it (long streams).
     * $REQUEST_TIMEOUT overrides it.
     */
    request_timeout_seconds: Default(Type.Number({ minimum: 0 }), 600),
    /** Time a stream may stay silent before Envoy resets it. */
    stream_idle_timeout_seconds: Default(Type.Number({ minimum: 1 }), 300),
    /**
     * On SIGTERM/SIGINT, how long requests in flight get to finish: Envoy stops taking new
     * connections at once, and what is still running when this runs out is cut (`interrupted`).
     */
    shutdown_grace_seconds: Default(Type.Number({ minimum: 0 }), 30),
  }),
  {},
);

export const envoySchema = Default(
  Closed({
    /** Start and supervise Envoy as a child process (`--no-envoy` turns this off). */
    manage: Default(Type.Boolean(), true),
    /** Explicit binary; otherwise $ENVOY_BIN, PATH, then .envoy/bin. */
    binary: Type.Optional(Type.String()),
    admin_address: Default(Type.String(), '127.0.0.1'),
    admin_port: Default(port(), 9901),
    /** Where the generated bootstrap is written. */
    bootstrap_path: Default(Type.String(), 'envoy/envoy.generated.yaml'),
    log_level: Default(StringEnum(['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off']), 'warning'),
    concurrency: Default(Type.Integer({ minimum: 1 }), 2),
    /**
     * Most client connections Envoy holds open at once, over all listeners (the overload
     * manager's downstream connections monitor); beyond it new connections are closed at once.
     */
    max_downstream_connections: Default(Type.Integer({ minimum: 1 }), 50000),
  }),
  {},
);

export const processorSchema = Default(
  Closed({
    /** Address the processor's gRPC and HTTP servers bind. */
    listen_address: Default(Type.String(), '127.0.0.1'),
    /** Address Envoy uses to reach the processor (a service name in docker-compose). */
    advertise_address: Default(Type.String(), '127.0.0.1'),
    grpc_port: Default(port(), 9002),
    /** Admin HTTP API: /health, /metrics, and the management endpoints. */
    admin_port: Default(port(), 9003),
    /** Per-message ext_proc deadline Envoy applies. */
    message_timeout_ms: Default(Type.Integer({ minimum: 50 }), 10000),
    /**
     * Processes serving ext_proc (src/workers): more cores for the hot path. 1: the processor
     * serves everything on grpc_port. More: that many worker processes serve ext_proc on
     * ext_proc_port (one port, connections spread over them), while rate limits, xDS, the admin
     * API and Envoy's supervision stay in one process. `auto` (the default): what the machine
     * leaves beside Envoy's threads, resolved by `start` with a managed Envoy
     * (config/workers.ts resolveWorkers); read the count through workerCount().
     */
    workers: Default(OneOf([Type.Integer({ minimum: 1, maximum: 64 }), Constant('auto')]), 'auto'),
    /** The workers' ext_proc port (used when workers > 1). */
    ext_proc_port: Default(port(), 9005),
  }),
  {},
);

export const logFileSchema = Default(
  Closed({
    /** JSON logs to this file as well as stdout; $LOG_TO_FILE overrides it. */
    enabled: Default(Type.Boolean(), false),
    /**
     * Appended to, and reopened on SIGHUP (logrotate's postrotate). Relative to the
     * configuration's folder; $LOG_FILE_PATH (relative to the working directory) overrides it.
     */
    path: Default(Type.String({ minLength: 1 }), 'logs/gateway.log'),
  }),
  {},
);

export const bodyLoggingSchema = Default(
  Closed({
    /**
     * The per-request log line carries the request body (after the plugins ran: the content
     * filter's redactions apply) and the response body as the client got it (streams as their
     * assembled text). Off by default: bodies are user data.
     */
    enabled: Default(Type.Boolean(), false),
    /** Per body; a longer one is cut at this many bytes and marked as truncated. */
    max_bytes: Default(Type.Integer({ minimum: 1 }), 16384),
  }),
  {},
);

export const loggingSchema = Default(
  Closed({
    level: Default(StringEnum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    file: logFileSchema,
    bodies: bodyLoggingSchema,
  }),
  {},
);

/**
 * OpenTelemetry traces (src/observability/tracing.ts): a SERVER span per request and a CLIENT
 * span per upstream attempt, with the GenAI semantic conventions, exported over OTLP/HTTP.
 * Off by default; off, the OpenTelemetry SDK is not even loaded.
 */
export const tracingSchema = Default(
  Closed({
    enabled: Default(Type.Boolean(), false),
    /**
     * OTLP/HTTP collector: a base URL (`/v1/traces` is appended unless the path already ends
     * with it). Unset: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), else
     * $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318.
     */
    endpoint: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+(/\\S*)?$' })),
    /** The spans' service.name. Unset: $OTEL_SERVICE_NAME, else llm-gateway. */
    service_name: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Share of new traces recorded (0 to 1). A request carrying a client's `traceparent`
     * follows the client's sampled flag instead (parent-based sampling).
     */
    sample_ratio: Default(Type.Number({ minimum: 0, maximum: 1 }), 1),
    /**
     * Prompt and completion text as span events (`gen_ai.content.prompt`,
     * `gen_ai.content.completion`), each cut at content_max_bytes. Off by default: it is user data.
     */
    capture_content: Default(Type.Boolean(), false),
    /** Per captured text (prompt, completion); a longer one is cut and marked gateway.content_truncated. */
    content_max_bytes: Default(Type.Integer({ minimum: 1 }), 8192),
  }),
  {},
);

export const providerSchema = Closed({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
  type: Type.String({ minLength: 1 }),
  base_url: Type.String({ pattern: '^https?://[^/\\s]+(/\\S*)?$' }),
  /** Literal key (discouraged) or `env:NAME`. */
  api_key: Type.Optional(Type.String()),
  /** Name of the environment variable holding the key. */
  api_key_env: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
  /** Model ids or glob patterns (`gpt-*`) this provider serves. */
  models: Default(Type.Array(Type.String({ minLength: 1 })), []),
  /** Extra headers sent upstream on every request. */
  headers: Default(MapOf(Type.String()), {}),
  /** Per-attempt upstream timeout in seconds (0 = only the route timeout applies). */
  timeout_seconds: Default(Type.Number({ minimum: 0 }), 0),
  /**
   * Client APIs this provider's type speaks natively but this server does not (an
   * OpenAI-compatible server without `/v1/responses`): such requests are translated to chat
   * completions for it instead of passed through.
   */
  translated_apis: Default(Type.Array(StringEnum(['responses', 'messages']), { uniqueItems: true }), []),
});

export const pluginSchema = Closed({
  /** Built-in plugin name, a file path, or an npm package name. */
  use: Type.String({ minLength: 1 }),
  /** Instance name for logs and errors; defaults to the plugin's own name. */
  name: Type.Optional(Type.String({ minLength: 1 })),
  enabled: Default(Type.Boolean(), true),
  /** Checked against the plugin's own configSchema when it loads (src/plugins/loader.ts). */
  options: Default(OpenObject(), {}),
  timeout_ms: Default(Type.Integer({ minimum: 1 }), 2000),
  on_error: Default(StringEnum(['fail_open', 'fail_closed']), 'fail_closed'),
});

export const echoDemoSchema = Default(
  Closed({
    enabled: Default(Type.Boolean(), true),
    port: Default(port(), 9004),
    /** Delay between streamed chunks, so streaming is visible. */
    chunk_delay_ms: Default(Type.Integer({ minimum: 0 }), 20),
  }),
  {},
);

export const demoSchema = Default(Closed({ echo: echoDemoSchema }), {});

export const storeSchema = Default(
  Closed({
    /** SQLite file and the generated encryption key live here. */
    data_dir: Default(Type.String(), 'data'),
    /** postgres://… to share keys and usage between replicas; defaults to $DATABASE_URL. */
    database_url: Type.Optional(Type.String()),
  }),
  {},
);

/** An admin key: its secret, or the secret's SHA-256. */
export const keySourceSchema = Type.Object(
  {
    key: Type.Optional(Type.String({ minLength: 8 })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
  },
  { oneOf: [{ required: ['key'] }, { required: ['sha256'] }] },
);

export const keysSchema = Default(
  Closed({
    /**
     * keys.json in the original gateway's shape (relative to the configuration's folder); else
     * keys.json beside the configuration if present. $KEYS_FILE_PATH (the original gateway's
     * name) or $KEYS_FILE, relative to the working directory, override it.
     */
    file: Type.Optional(Type.String()),
    /** Inline keys, same shape as keys.json's virtual_keys: secret → settings (checked on import, src/keys/schema.ts). */
    entries: Default(OpenObject<{ [secret: string]: KeySpec }>(), {}),
    /** Keys for the admin API (role admin, plus completion and embedding). */
    admin: Default(Type.Array(keySourceSchema), []),
    cache_ttl_ms: Default(Type.Integer({ minimum: 0, maximum: 60000 }), 2000),
  }),
  {},
);

/** USD per million tokens. */
export const priceSchema = Closed({
  input: Type.Number({ minimum: 0 }),
  output: Type.Number({ minimum: 0 }),
  /** Price of prompt tokens served from the provider's cache; defaults to `input`. */
  cached_input: Type.Optional(Type.Number({ minimum: 0 })),
});

export const pricingSchema = Default(
  Closed({
    /** Model id or trailing-* pattern → price. Exact ids win over patterns; longer patterns first. */
    models: Default(MapOf(priceSchema), {}),
    /** Tier → multiplier applied to the cost (`langchain: 1.2` bills langchain usage 20% more). */
    tier_multipliers: Default(MapOf(Type.Number({ minimum: 0 })), {}),
  }),
  {},
);

export const usageSchema = Default(
  Closed({
    max_queue: Default(Type.Integer({ minimum: 1 }), 100000),
    batch_size: Default(Type.Integer({ minimum: 1, maximum: 5000 }), 500),
    flush_interval_ms: Default(Type.Integer({ minimum: 1 }), 200),
  }),
  {},
);

export const deploymentSchema = Closed({
  provider: Type.String({ minLength: 1 }),
  model: Type.String({ minLength: 1 }),
  weight: Default(Type.Number({ minimum: 0 }), 1),
});

/** A public model id: one provider model, or several weighted deployments of it. */
export const modelMappingSchema = Closed(
  {
    id: Type.String({ minLength: 1 }),
    provider: Type.Optional(Type.String({ minLength: 1 })),
    model: Type.Optional(Type.String({ minLength: 1 })),
    deployments: Type.Optional(Type.Array(deploymentSchema, { minItems: 1 })),
    display_name: Type.Optional(Type.String()),
    context_window: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { oneOf: [{ required: ['provider', 'model'] }, { required: ['deployments'] }] },
);

export const fallbackSchema = Closed({
  model: Type.String({ minLength: 1 }),
  fallback_models: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  /** HTTP statuses or error classes that trigger the next model. */
  on: Default(
    Type.Array(Type.Union([Type.Integer({ minimum: 400, maximum: 599 }), StringEnum(['rate_limit_exceeded', 'server_error', 'timeout', 'connect_failure'])])),
    [429, 500, 502, 503, 504, 'timeout', 'connect_failure'],
  ),
});

export const routingSchema = Default(
  Closed({
    /** Retries within one provider (same model), with backoff honouring retry-after. */
    retries: Default(Type.Integer({ minimum: 0, maximum: 5 }), 1),
    retry_on: Default(Type.String(), 'connect-failure,reset,retriable-status-codes'),
    retry_status_codes: Default(Type.Array(Type.Integer({ minimum: 400, maximum: 599 })), [429, 502, 503]),
    /** Per-attempt wait for response headers on fallback chains whose rule lists `timeout` (0 = none). */
    per_try_timeout_seconds: Default(Type.Number({ minimum: 0 }), 60),
  }),
  {},
);

/** Initial runtime security settings; GET/PUT /v1/security/config changes them at run time. */
export const securitySchema = Default(
  Closed({
    content_filtering_enabled: Default(Type.Boolean(), true),
    audit_logging_enabled: Default(Type.Boolean(), true),
    data_isolation_enabled: Default(Type.Boolean(), false),
    /** Content filter rule sets; their shape is owned (and validated) by the content filter. */
    content_filters: Default(OpenArray<JsonValue>(), []),
  }),
  {},
);

export const gatewayConfigSchema = Closed(
  {
    server: serverSchema,
    envoy: envoySchema,
    processor: processorSchema,
    logging: loggingSchema,
    /** OpenTelemetry traces over OTLP/HTTP (off by default). */
    tracing: tracingSchema,
    providers: Default(Type.Array(providerSchema), []),
    // Without a plugins list the gateway runs the default chain, never an unauthenticated one.
    plugins: Default(Type.Array(pluginSchema), DEFAULT_PLUGINS),
    demo: demoSchema,
    store: storeSchema,
    keys: keysSchema,
    pricing: pricingSchema,
    usage: usageSchema,
    models: Default(Type.Array(modelMappingSchema), []),
    fallbacks: Default(Type.Array(fallbackSchema), []),
    security: securitySchema,
    /** JWT bearer tokens accepted by the admin API besides admin keys (src/admin/jwt.ts). */
    admin_auth: adminAuthSchema,
    routing: routingSchema,
    /** Second Envoy listener requiring client certificates, and the identities it accepts. */
    mtls: mtlsSchema,
    /** Global (Envoy + the processor's RateLimitService) and per-instance local rate limits. */
    rate_limits: rateLimitsSchema,
    /** Budgets that stop a stream: the ledger (Redis or in-process) and team budgets (docs/budgets.md). */
    budgets: budgetsSchema,
    /** The MCP gateway: `/mcp` in front of upstream MCP servers (src/mcp). */
    mcp: mcpSchema,
  },
  { $id: 'https://llm-gateway.local/schemas/gateway.json' },
);
