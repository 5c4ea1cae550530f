import type { UsageRecord, UsageTotals } from '../store/types';

/**
 * The plugin API. Everything a plugin author needs is declared here and re-exported from the
 * package root; plugins never see gRPC, Envoy or the processor's internals.
 *
 * Lifecycle of one request, in order (any hook may be absent):
 *   onRequestHeaders → onRequest → onUpstreamAttempt (once per attempt) →
 *   onResponseHeaders → onResponseChunk (per SSE event, streams only) → onResponse → onComplete
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Minimal structured logger (pino-compatible). Never pass secrets to it. */
export interface PluginLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): PluginLogger;
}

/** Read-only, case-insensitive view of HTTP headers. */
export interface HeaderView {
  get(name: string): string | undefined;
  has(name: string): boolean;
  entries(): IterableIterator<[string, string]>;
}

/** The OpenAI API surface a request addresses, independent of the URL prefix used. */
export type Endpoint = 'chat.completions' | 'completions' | 'embeddings' | 'models' | 'responses' | 'unknown';

/** Who is calling. Set by authentication plugins; read by routing, quota and usage plugins. */
export interface Principal {
  /** Stable id (virtual key id, certificate identity, JWT subject). Never the secret itself. */
  id: string;
  kind: 'api_key' | 'mtls' | 'jwt' | 'anonymous' | (string & {});
  user?: string;
  team?: string;
  tier?: string;
  allowedModels?: string[];
  allowedProviders?: string[];
  attributes?: Record<string, unknown>;
}

/** Where a request goes: a configured provider and the model id that provider expects. */
export interface ProviderTarget {
  provider: string;
  type: string;
  model: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

export interface GatewayRequest {
  readonly method: string;
  /** Path without the query string, as the client sent it. */
  readonly path: string;
  readonly query: string;
  readonly headers: HeaderView;
  readonly endpoint: Endpoint;
  /** Path prefix the client used before the OpenAI path (`/v1`, `/v1/langchain`, or ``). */
  readonly prefix: string;
  /** Parsed JSON body (undefined for GET or non-JSON bodies). Call ctx.setRequestBody to change it. */
  readonly body: JsonObject | undefined;
  /** `body.model`, when present. */
  readonly model: string | undefined;
  /** `body.stream === true`. */
  readonly stream: boolean;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: HeaderView;
  /** True for `text/event-stream` responses. */
  readonly streamed: boolean;
  /** Parsed JSON body of a buffered response; available from onResponse on. */
  readonly body: JsonValue | undefined;
}

/** One server-sent event of a streamed response. */
export interface StreamEvent {
  /** The `event:` field, if any. */
  readonly event: string | undefined;
  /** The raw `data:` payload. */
  readonly data: string;
  /** `data` parsed as JSON (undefined for `[DONE]` or non-JSON). Parsed on first access. */
  readonly json: JsonValue | undefined;
  /** Replaces the payload sent to the client. */
  replace(json: JsonValue): void;
  /** Removes this event from what the client receives. */
  drop(): void;
  /** Sends an extra `data:` event with this payload just before this one (even if this one is dropped). */
  insertBefore(json: JsonValue): void;
}

export interface UpstreamAttempt {
  /** 1 for the first attempt, 2 for the first retry or fallback, ... */
  readonly number: number;
  readonly target: ProviderTarget;
}

/**
 * How an exchange ended for the client: `completed` (the whole response was delivered),
 * `responded` (the gateway answered itself), `cancelled` (the client went away first),
 * `interrupted` (cut short by a shutdown), `failed` (the processor stream broke).
 */
export type ExchangeOutcome = 'completed' | 'responded' | 'cancelled' | 'interrupted' | 'failed';

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
   * where filters after the processor read it: the rate limit descriptors (`rl_*` keys, see the
   * rate-limit-descriptors plugin) and access logs. Sent with the next reply to Envoy.
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

export interface ModelEntry {
  id: string;
  provider: string;
  displayName?: string;
  contextWindow?: number;
}

/** A configured provider as plugins see it. */
export interface ProviderInfo {
  readonly name: string;
  readonly type: string;
  readonly models: readonly string[];
  readonly available: boolean;
}

/** A virtual key as plugins see it: settings only, never the secret or its digest. */
export interface KeyInfo {
  id: string;
  name: string | null;
  user: string | null;
  team: string | null;
  tier: 'standard' | 'langchain';
  roles: string[];
  /** Provider the key's own credential belongs to, if it carries one. */
  provider: string | null;
  allowedModels: string[] | null;
  allowedProviders: string[] | null;
  quotaLimit: number | null;
  tokenBudget: number | null;
  budgetUsd: number | null;
  metadata: Record<string, unknown>;
}

export type KeyCheck =
  | { ok: true; key: KeyInfo; /** The provider credential this key maps to, if any. */ credential: string | undefined }
  | { ok: false; reason: 'invalid' | 'revoked' | 'expired' };

/** Authenticates presented secrets against the gateway's key store. */
export interface KeyDirectory {
  authenticate(secret: string): Promise<KeyCheck>;
}

export type { UsageRecord, UsageTotals };

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

/** Runtime security settings, changed through GET/PUT /v1/security/config; the same on every replica. */
export interface SecuritySettings {
  content_filtering_enabled: boolean;
  audit_logging_enabled: boolean;
  data_isolation_enabled: boolean;
  /** Content filter rule sets; their shape is owned (and validated) by the content filter. */
  content_filters: JsonValue[];
}

export interface SettingsProblem {
  /** The setting at fault, e.g. `content_filters[2].rules[0].pattern`. */
  param: string;
  message: string;
}

/** One append-only audit record. Never put a secret or offending content in it. */
export interface AuditEvent {
  /** e.g. `key.created`, `provider.removed`, `security_config.changed`, `request.blocked`. */
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  target?: string;
  actor?: { keyId?: string; identity?: string; team?: string };
  requestId?: string;
  details?: Record<string, JsonValue>;
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
