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
   * `anthropic`: Anthropic Messages (`/v1/messages`), served as chat completions.
   */
  readonly surface: string;
  /** The API the client called, as usage records name it: `endpoint`, or `messages` / `messages.count_tokens`. */
  readonly api: Endpoint;
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
   * Token usage counted by a plugin, for a response whose provider never reported it (a stream the
   * gateway ended early, a client gone mid-stream): priced and recorded as `usage`. The provider's
   * own usage, when it comes, replaces it.
   */
  setUsage(usage: TokenUsage): void;
  /**
   * Makes a stream this request gets endable by the gateway: when an onResponseChunk hook
   * short-circuits it, the client gets the error event and the proper end of its API's stream, the
   * response ends there, and Envoy cancels the upstream request. Call it before the response starts
   * (onRequest). Without it a short-circuited stream drops the rest of the upstream's events.
   */
  endableStream(): void;
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
  /** How the exchange is recorded when this ends a stream (default: as Envoy ends it). */
  readonly outcome?: 'budget_exceeded';
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
  /**
   * MCP tool calls through `/mcp` (src/mcp), before the upstream server is called: inspect or
   * change the arguments (`call.setArguments`), or throw a GatewayError to refuse the call (the
   * client gets a JSON-RPC error with its message, nothing goes upstream).
   */
  onToolCall?(call: ToolCall): void | Promise<void>;
  /** MCP tool results, before the client gets them: change them (`call.setResult`) or throw to withhold them. */
  onToolResult?(call: ToolCall): void | Promise<void>;
  /** Called on shutdown: flush and release resources. */
  close?(): void | Promise<void>;
}

/** The hooks of LLM requests (tool-call hooks are run by the MCP gateway). */
export type HookName = Exclude<keyof PluginHooks, 'close' | 'onToolCall' | 'onToolResult'>;

/** One MCP tool call through `/mcp`, as the onToolCall and onToolResult hooks see it. */
export interface ToolCall {
  /** The id the gateway minted for this call (its usage record's id). */
  readonly id: string;
  /** The upstream MCP server (its configured name). */
  readonly server: string;
  /** The tool's name on that server (without the `<server>__` prefix). */
  readonly tool: string;
  readonly principal: Principal;
  /** The arguments, as the client sent them or as a hook set them. */
  readonly arguments: JsonObject;
  /** The server's result (`CallToolResult`: `content`, `structuredContent`, `isError`), in onToolResult. */
  readonly result: JsonObject | undefined;
  readonly log: PluginLogger;
  setArguments(args: JsonObject): void;
  setResult(result: JsonObject): void;
}

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
  /** The spend ledger of key and team budgets (docs/budgets.md). */
  readonly budgets: BudgetLedger;
}

/** One budget a request spends from: a key's or a team's, in tokens or US dollars. */
export interface BudgetAccount {
  readonly scope: 'key' | 'team';
  /** The key id or the team name. */
  readonly id: string;
  readonly unit: 'tokens' | 'usd';
  /** The budget itself (the ledger keeps what is spent, never the limit: a changed limit applies at once). */
  readonly limit: number;
}

/** What a request asks of one account. */
export interface BudgetAsk {
  readonly account: BudgetAccount;
  /** How much to hold (its worst case, or one more step). */
  readonly want: number;
  /** Less than this left: refused (reserve only). */
  readonly min: number;
}

export type BudgetReservation =
  | { readonly ok: true; /** What each ask got, in order: at most its want. */ readonly granted: readonly number[] }
  | { readonly ok: false; /** The ask that could not be met. */ readonly account: BudgetAccount; readonly remaining: number };

/**
 * Budgets across replicas (Redis when configured, else this process): a request holds its worst
 * case before it goes upstream, holds more while it streams, and settles what it really spent.
 * Holds expire on their own (`budgets.hold_ttl_seconds`) if a process dies with one.
 */
export interface BudgetLedger {
  /**
   * The configured settings: the output ceiling when a request sets none, the streaming step, and
   * how long a hold lives after it was last taken or extended (a request that never settles, its
   * replica gone, frees it then). A longer request keeps its hold alive with `extend` (want 0).
   */
  readonly settings: { readonly defaultMaxOutputTokens: number; readonly stepTokens: number; readonly holdTtlMs: number };
  /** A team's configured budgets (`budgets.teams`), if any. */
  teamBudget(team: string): { tokens: number | null; usd: number | null } | undefined;
  /**
   * Holds up to `want` of every account under `holdId` (minted by the caller; less where less is
   * left), atomically; refused, holding nothing, when any account has less than its `min` left.
   */
  reserve(holdId: string, asks: readonly BudgetAsk[]): Promise<BudgetReservation>;
  /** Adds up to `want` more to a hold; returns what each account added (0: nothing left). */
  extend(holdId: string, asks: readonly BudgetAsk[]): Promise<number[]>;
  /** Drops the hold and adds what the request really spent to each account. Call it once per hold. */
  settle(holdId: string, spent: readonly { account: BudgetAccount; amount: number }[]): Promise<void>;
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
