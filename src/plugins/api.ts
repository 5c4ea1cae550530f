import type {
  AuditEvent,
  ClientCertificate,
  Endpoint,
  ExchangeOutcome,
  HeaderView,
  JsonObject,
  JsonValue,
  KeyCheck,
  ModelEntry,
  Principal,
  ProviderInfo,
  ProviderTarget,
  RateLimitDimension,
  RequestQuota,
  SecuritySettings,
  SettingsProblem,
  StreamEvent,
  TokenUsage,
  UsageRecord,
  UsageTotals,
} from '../domain';

/**
 * The plugin API. Everything a plugin author needs is declared here and re-exported from the
 * package root; plugins never see gRPC, Envoy or the processor's internals.
 *
 * Lifecycle of one request, in order (any hook may be absent):
 *   onRequestHeaders → onRequest → onUpstreamAttempt (once per attempt) →
 *   onResponseHeaders → onResponseChunk (per SSE event, streams only) → onResponse → onComplete
 */

/** Minimal structured logger (pino-compatible). Never pass secrets to it. */
export interface PluginLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): PluginLogger;
}

export interface GatewayRequest {
  readonly method: string;
  /** Path without the query string, as the client sent it. */
  readonly path: string;
  readonly query: string;
  readonly headers: HeaderView;
  readonly endpoint: Endpoint;
  /** Path prefix the client used before the OpenAI path (`/v1`, `/v1/langchain`, or ``; a surface's own, e.g. `/api/v1`). */
  readonly prefix: string;
  /**
   * The client API the request came in through: `openai` for the OpenAI paths, else a client
   * surface's name (`dotnet`: the earlier .NET gateway's `/api/v1/...`). The core translates a
   * surface's body to OpenAI's before any `onRequest` hook and its answers back after them, so
   * plugins always see OpenAI shapes; `endpoint` is the OpenAI endpoint it is served as.
   */
  readonly surface: string;
  /** Parsed JSON body (undefined for GET or non-JSON bodies). Call ctx.setRequestBody to change it. */
  readonly body: JsonObject | undefined;
  /** `body.model`, when present. */
  readonly model: string | undefined;
  /** `body.stream === true`. */
  readonly stream: boolean;
  /**
   * The API key the client presented (`Authorization: Bearer`, `X-API-Key` or `api-key`), if any.
   * It never goes upstream; never log it.
   */
  readonly presentedKey: string | undefined;
  /**
   * The client certificate Envoy verified, on the mTLS listener (from `x-forwarded-client-cert`,
   * which only Envoy can set and which never goes upstream).
   */
  readonly clientCertificate: ClientCertificate | undefined;
}

/**
 * Tells the gateway's rate limiting about this request. Envoy's rate limit filter asks the
 * RateLimitService before the request goes upstream: `rate_limits.rules` match on the
 * dimensions, and a quota is counted per principal. Over a limit the client gets 429 with
 * OpenAI's x-ratelimit-* headers. Call it in onRequestHeaders or onRequest.
 */
export interface RateLimitCapability {
  /** A value `rate_limits.rules` can match on; empty values are ignored. */
  setDimension(dimension: RateLimitDimension, value: string): void;
  /** Counts this request against `quota.limit` requests per `quota.windowSeconds` for `quota.principal`. */
  setQuota(quota: RequestQuota): void;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: HeaderView;
  /** True for `text/event-stream` responses. */
  readonly streamed: boolean;
  /** Parsed JSON body of a buffered response; available from onResponse on. */
  readonly body: JsonValue | undefined;
}


export interface UpstreamAttempt {
  /** 1 for the first attempt, 2 for the first retry or fallback, ... */
  readonly number: number;
  readonly target: ProviderTarget;
}

/** Per-request state shared by all hooks. */
export interface RequestContext {
  /** The id the gateway minted for this request: unique, and the key for any per-request state. */
  readonly id: string;
  /**
   * The request's x-request-id (the client's if it sent one, else Envoy's), for correlating
   * logs: a client may repeat it, so never key state on it.
   */
  readonly requestId: string;
  /** `performance.now()` when the request reached the processor. */
  readonly startTime: number;
  readonly request: GatewayRequest;
  readonly response: GatewayResponse | undefined;
  principal: Principal | undefined;
  /** Set by a routing plugin during onRequest; the core sends the request there. */
  target: ProviderTarget | undefined;
  /** Token usage reported by the provider, once known. */
  readonly usage: TokenUsage | undefined;
  /** Epoch milliseconds when the request arrived. */
  readonly receivedAt: number;
  /** Milliseconds from arrival to the first response body byte, once known. */
  readonly timeToFirstByteMs: number | undefined;
  /** The model the provider says served the request (`model` of its response), once known. */
  readonly servedModel: string | undefined;
  /** Cost in USD from the configured prices, set when the request completes (onComplete). */
  readonly costUsd: number | undefined;
  /** HTTP status the client got (499 if it went away first); set before onComplete. */
  readonly finalStatus: number | undefined;
  /** Milliseconds from arrival to completion; set before onComplete. */
  readonly durationMs: number | undefined;
  /** How the exchange ended; set before onComplete. */
  readonly outcome: ExchangeOutcome | undefined;
  /** Free-form values plugins share with each other for this request. */
  readonly metadata: Map<string, unknown>;
  /** The request's rate limit dimensions and quota. */
  readonly rateLimits: RateLimitCapability;
  readonly log: PluginLogger;

  setRequestHeader(name: string, value: string): void;
  removeRequestHeader(name: string): void;
  setResponseHeader(name: string, value: string): void;
  removeResponseHeader(name: string): void;
  setRequestBody(body: JsonObject): void;
  setResponseBody(body: JsonValue): void;
  /**
   * Uses this credential instead of the provider's configured one for the upstream attempt
   * (virtual keys that map to their own provider key). Call it in onUpstreamAttempt.
   */
  setProviderCredential(credential: string): void;
  /**
   * Publishes a value to Envoy as dynamic metadata in the gateway's namespace (`llm-gateway`),
   * where filters after the processor read it (access logs, filters of your own). Sent with the
   * next reply to Envoy. For rate limits use `rateLimits`.
   */
  setDynamicMetadata(key: string, value: string | number): void;
}

/** Returned by a hook to answer the request itself instead of continuing. */
export interface ShortCircuit {
  readonly kind: 'respond';
  readonly status: number;
  readonly body: JsonValue;
  readonly headers?: Record<string, string>;
}

export type HookResult = void | ShortCircuit | Promise<void | ShortCircuit>;

export interface PluginHooks {
  onRequestHeaders?(ctx: RequestContext): HookResult;
  onRequest?(ctx: RequestContext): HookResult;
  onUpstreamAttempt?(ctx: RequestContext, attempt: UpstreamAttempt): HookResult;
  onResponseHeaders?(ctx: RequestContext): HookResult;
  onResponseChunk?(ctx: RequestContext, event: StreamEvent): HookResult;
  onResponse?(ctx: RequestContext): HookResult;
  /** Runs once per request after the client has its answer, success or not. Cannot change it. */
  onComplete?(ctx: RequestContext): void | Promise<void>;
  /** Called on shutdown: flush and release resources. */
  close?(): void | Promise<void>;
}

export type HookName = Exclude<keyof PluginHooks, 'close'>;

/** Authenticates presented secrets against the gateway's key store. */
export interface KeyDirectory {
  authenticate(secret: string): Promise<KeyCheck>;
}

/** Where usage records go: a bounded queue written to the store off the request path. */
export interface UsageSink {
  /** Never blocks and never throws; a full queue drops the record and counts it. */
  record(r: UsageRecord): void;
  totalsForKey(keyId: string, since?: number): Promise<UsageTotals>;
}

/** Prices from the gateway configuration. */
export interface PriceBook {
  /** Cost in USD, or undefined when the model has no price. `tier` applies its multiplier. */
  cost(model: string, usage: TokenUsage, tier?: string | null): number | undefined;
}

export interface CounterHandle {
  inc(labels: Record<string, string>, value?: number): void;
}

export interface HistogramHandle {
  observe(labels: Record<string, string>, value: number): void;
}

/** Registers Prometheus metrics on the gateway's /metrics. Keep label values bounded. */
export interface MetricsApi {
  counter(name: string, help: string, labelNames: string[]): CounterHandle;
  histogram(name: string, help: string, labelNames: string[], buckets?: number[]): HistogramHandle;
}

/** What the host offers a plugin when it is created. */
export interface PluginHostApi {
  readonly log: PluginLogger;
  /** Directory of the gateway configuration file; resolve relative paths against it. */
  readonly baseDir: string;
  readonly providers: {
    list(): ProviderInfo[];
    get(name: string): ProviderInfo | undefined;
    /** The provider serving `model`: mappings, `provider/model`, then model patterns. */
    resolve(model: string): ProviderTarget | undefined;
    /** Listable models (mappings and exact model names), for /v1/models. */
    models(): ModelEntry[];
  };
  readonly keys: KeyDirectory;
  readonly usage: UsageSink;
  readonly pricing: PriceBook;
  readonly metrics: MetricsApi;
  readonly security: {
    /** The settings in force now: read them per request so changes apply at once. */
    current(): SecuritySettings;
    /** Rejects settings this plugin cannot use (PUT /v1/security/config answers 400 naming `param`). */
    addValidator(v: (s: SecuritySettings) => SettingsProblem | undefined): void;
  };
  /** Appends an audit record (off the request path; dropped only if audit logging is off). */
  readonly audit: { record(e: AuditEvent): void };
}

export interface PluginDefinition<Options = Record<string, unknown>> {
  name: string;
  version?: string;
  description?: string;
  /** JSON Schema for `options`; validated (and defaulted) before `create` is called. */
  configSchema?: Record<string, unknown>;
  create(options: Options, host: PluginHostApi): PluginHooks | Promise<PluginHooks>;
}

/** Identity helper that gives plugin authors type checking of their definition. */
export function definePlugin<Options = Record<string, unknown>>(def: PluginDefinition<Options>): PluginDefinition<Options> {
  return def;
}

/** Builds a short-circuit reply. */
export function respond(status: number, body: JsonValue, headers?: Record<string, string>): ShortCircuit {
  return { kind: 'respond', status, body, headers };
}

/** Identity rules (`mtls.identities`): their JSON Schema and matching, for identity-mapping plugins. */
export { identityRuleSchema, identityMatches, findIdentityRule, type IdentityRule } from '../identity/config';
