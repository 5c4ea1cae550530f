export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

/**
 * How an exchange ended for the client: `completed` (the whole response was delivered),
 * `responded` (the gateway answered itself), `cancelled` (the client went away first),
 * `interrupted` (cut short by a shutdown), `failed` (the processor stream broke),
 * `budget_exceeded` (the gateway ended a stream when the caller's budget was spent, docs/budgets.md).
 */
export type ExchangeOutcome = 'completed' | 'responded' | 'cancelled' | 'interrupted' | 'failed' | 'budget_exceeded';

/** One request's usage and billing record. */
export interface UsageRecord {
  /** The id the gateway minted for this request; unique, so a record written twice is stored once. */
  id: string;
  /** The x-request-id the request carried (the client's or Envoy's): for correlation only, not unique. */
  requestId: string | null;
  /** Epoch milliseconds when the request arrived. */
  time: number;
  keyId: string | null;
  user: string | null;
  team: string | null;
  tier: string | null;
  /** `standard` or `langchain`, from the path the client used. */
  endpoint: string;
  /** OpenAI API surface: `chat.completions`, `embeddings`, ... */
  api: string;
  provider: string | null;
  modelRequested: string | null;
  modelServed: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  costUsd: number;
  durationMs: number;
  ttftMs: number | null;
  status: number;
  streamed: boolean;
  /** How the exchange ended; null on records written before outcomes were stored. */
  outcome: ExchangeOutcome | null;
  /**
   * True when the gateway answered from its response cache (nothing went upstream): the tokens are
   * the cached answer's, the cost the cached rate. Absent (false) for every other record.
   */
  cached?: boolean;
}

/**
 * `ctx.metadata` key under which the response cache leaves a {@link CachedAnswer} when it answered
 * a request itself, for the usage recorder (and any plugin of yours) to account for it.
 */
export const CACHED_ANSWER_METADATA = 'response-cache.hit';

/** What a request answered from the response cache consumed, as the cache accounts it. */
export interface CachedAnswer {
  /** The token usage of the cached answer (what the original request used), if it reported any. */
  usage: TokenUsage | undefined;
  /** The cached rate: the configured price of that usage times the cache's cost multiplier. */
  costUsd: number;
  /** The model that produced the cached answer (its `model`), if known. */
  model: string | undefined;
  /** Whether the client got the answer as a stream (replayed as server-sent events). */
  streamed: boolean;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  costUsd: number;
}
