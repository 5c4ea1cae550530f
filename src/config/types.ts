/** The validated gateway configuration (gateway.yaml after defaults are applied). */

export interface ServerConfig {
  /** Address Envoy's HTTP listener binds. */
  listen_address: string;
  http_port: number;
  /** false turns the plain listener off (mesh deployments use only the mTLS listener). */
  http_enabled: boolean;
  /** Largest request body accepted; larger bodies get a JSON 413 from Envoy. */
  max_request_body_bytes: number;
  /** Whole-request timeout for LLM routes; 0 disables it (long streams). */
  request_timeout_seconds: number;
  /** Time a stream may stay silent before Envoy resets it. */
  stream_idle_timeout_seconds: number;
  /**
   * On SIGTERM/SIGINT, how long requests in flight get to finish: Envoy stops taking new
   * connections at once, and what is still running when this runs out is cut (`interrupted`).
   */
  shutdown_grace_seconds: number;
}

export interface EnvoyConfig {
  /** Start and supervise Envoy as a child process (`--no-envoy` turns this off). */
  manage: boolean;
  /** Explicit binary; otherwise $ENVOY_BIN, PATH, then .envoy/bin. */
  binary?: string;
  admin_address: string;
  admin_port: number;
  /** Where the generated bootstrap is written. */
  bootstrap_path: string;
  log_level: 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';
  concurrency: number;
}

export interface ProcessorConfig {
  /** Address the processor's gRPC and HTTP servers bind. */
  listen_address: string;
  /** Address Envoy uses to reach the processor (a service name in docker-compose). */
  advertise_address: string;
  grpc_port: number;
  /** Admin HTTP API: /health, /metrics, and later the management endpoints. */
  admin_port: number;
  /** Per-message ext_proc deadline Envoy applies. */
  message_timeout_ms: number;
  /**
   * Processes serving ext_proc. 1: the processor serves everything on grpc_port. More: that
   * many worker processes serve ext_proc on ext_proc_port (one port, connections spread over
   * them), while rate limits, xDS, the admin API and Envoy's supervision stay in one process.
   * `auto` (the default) is resolved by `start` with a managed Envoy (config/load.ts
   * resolveWorkers); read the count through workerCount().
   */
  workers: number | 'auto';
  /** The workers' ext_proc port (used when workers > 1). */
  ext_proc_port: number;
}

export interface LoggingConfig {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
}

export interface ProviderConfig {
  name: string;
  type: string;
  base_url: string;
  /** Literal key (discouraged) or `env:NAME`. */
  api_key?: string;
  /** Name of the environment variable holding the key. */
  api_key_env?: string;
  /** Model ids or glob patterns (`gpt-*`) this provider serves. */
  models: string[];
  /** Extra headers sent upstream on every request. */
  headers: Record<string, string>;
  /** Per-attempt upstream timeout in seconds (0 = only the route timeout applies). */
  timeout_seconds: number;
}

export interface PluginConfig {
  /** Built-in plugin name, a file path, or an npm package name. */
  use: string;
  /** Instance name for logs and errors; defaults to the plugin's own name. */
  name?: string;
  enabled: boolean;
  options: Record<string, unknown>;
  timeout_ms: number;
  on_error: 'fail_open' | 'fail_closed';
}

export interface EchoDemoConfig {
  enabled: boolean;
  port: number;
  /** Delay between streamed chunks, so streaming is visible. */
  chunk_delay_ms: number;
}

export interface StoreConfig {
  data_dir: string;
  database_url?: string;
}

export interface KeysConfig {
  file?: string;
  entries: Record<string, import('../keys/schema').KeySpec>;
  admin: { id: string; key?: string; sha256?: string }[];
  cache_ttl_ms: number;
}

export interface UsageConfig {
  max_queue: number;
  batch_size: number;
  flush_interval_ms: number;
}

export interface ModelMappingConfig {
  id: string;
  provider?: string;
  model?: string;
  deployments?: { provider: string; model: string; weight: number }[];
  display_name?: string;
  context_window?: number;
}

export interface FallbackConfig {
  model: string;
  fallback_models: string[];
  on: (number | 'rate_limit_exceeded' | 'server_error' | 'timeout' | 'connect_failure')[];
}

export interface RoutingConfig {
  retries: number;
  retry_on: string;
  retry_status_codes: number[];
  per_try_timeout_seconds: number;
}

export interface GatewayConfig {
  server: ServerConfig;
  envoy: EnvoyConfig;
  processor: ProcessorConfig;
  logging: LoggingConfig;
  providers: ProviderConfig[];
  plugins: PluginConfig[];
  demo: { echo: EchoDemoConfig };
  store: StoreConfig;
  keys: KeysConfig;
  pricing: import('../usage/pricing').PricingConfig;
  usage: UsageConfig;
  models: ModelMappingConfig[];
  fallbacks: FallbackConfig[];
  security: import('../plugins/types').SecuritySettings;
  /** JWT bearer tokens accepted by the admin API besides admin keys. */
  admin_auth: import('../admin/jwt-config').AdminAuthConfig;
  routing: RoutingConfig;
  /** Global (Envoy + the processor's RateLimitService) and per-instance local rate limits. */
  rate_limits: import('../ratelimit/config').RateLimitsConfig;
  /** Second Envoy listener requiring client certificates, and the identities it accepts. */
  mtls: import('../identity/config').MtlsConfig;
  /** Directory the configuration was loaded from; relative paths resolve against it. */
  base_dir: string;
}
