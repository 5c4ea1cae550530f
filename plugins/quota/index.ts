import { definePlugin, GatewayError } from '../../src';

/**
 * Per-key request quota (default 100 requests per hour, as the original gateway: QUOTA_ENABLED
 * and QUOTA_LIMIT), overridable per key, plus the keys' token and dollar budgets. As for every
 * setting with an environment variable: the options (the configuration file) win over the
 * defaults, and QUOTA_ENABLED / QUOTA_LIMIT win over both.
 *
 * The quota is counted by the gateway's global rate limiting, not here: the plugin sets each
 * caller's quota through the rate limit capability (`ctx.rateLimits.setQuota`), and Envoy's rate
 * limit filter asks the processor's RateLimitService (implicit rule `quota`, one counter per
 * principal, in Redis when REDIS_URL is set so replicas share it). Over quota: 429 with
 * retry-after and OpenAI's x-ratelimit-* headers. Budgets are checked here against the store.
 */

interface Options {
  enabled?: boolean;
  limit?: number;
  window_seconds: number;
  /** Refuse keys whose token or dollar budget is spent. */
  enforce_budgets: boolean;
  /** How long a key's spend is cached before it is read from the store again. */
  budget_cache_ms: number;
}

const DEFAULT_LIMIT = 100;

/**
 * QUOTA_LIMIT: a whole number of requests (0 allows none). Unset or empty: undefined; anything
 * else is ignored with a warning, and the option (or the default 100) applies.
 */
function envLimit(v: string | undefined, fallback: number, log: { warn(o: object, msg: string): void }): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (Number.isSafeInteger(n) && n >= 0) return n;
  log.warn({ QUOTA_LIMIT: v.slice(0, 32), limit: fallback }, `QUOTA_LIMIT is not a whole number of requests: ${fallback} applies`);
  return undefined;
}

/** QUOTA_ENABLED: off for 0/false/no/off, on for anything else; unset or empty: undefined. */
const envBool = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : !/^(0|false|no|off)$/i.test(v.trim()));

export default definePlugin<Options>({
  name: 'quota',
  description: 'Per-key hourly request quota and token / dollar budgets',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      enabled: { type: 'boolean' },
      limit: { type: 'integer', minimum: 0 },
      window_seconds: { type: 'integer', minimum: 1, default: 3600 },
      enforce_budgets: { type: 'boolean', default: true },
      budget_cache_ms: { type: 'integer', minimum: 0, default: 5000 },
    },
  },
  create(options, host) {
    // The environment over the options (the configuration file), the options over the defaults.
    const enabled = envBool(process.env.QUOTA_ENABLED) ?? options.enabled ?? true;
    const defaultLimit = envLimit(process.env.QUOTA_LIMIT, options.limit ?? DEFAULT_LIMIT, host.log) ?? options.limit ?? DEFAULT_LIMIT;
    const spend = new Map<string, { at: number; tokens: number; cost: number }>();
    host.log.info({ enabled, limit: defaultLimit, window_seconds: options.window_seconds }, 'request quota');

    async function checkBudget(keyId: string, tokenBudget: number | null, budgetUsd: number | null): Promise<void> {
      if (tokenBudget === null && budgetUsd === null) return;
      const now = Date.now();
      let s = spend.get(keyId);
      if (!s || now - s.at > options.budget_cache_ms) {
        try {
          const t = await host.usage.totalsForKey(keyId);
          s = { at: now, tokens: t.totalTokens, cost: t.costUsd };
          spend.set(keyId, s);
        } catch (err) {
          // Budgets are checked against the store; while it is down, the last known spend (or
          // none) applies rather than failing every request.
          host.log.warn({ err: { message: (err as Error).message } }, 'budget check skipped: usage store unavailable');
          if (!s) return;
        }
      }
      if ((tokenBudget !== null && s.tokens >= tokenBudget) || (budgetUsd !== null && s.cost >= budgetUsd)) {
        throw new GatewayError(429, 'insufficient_quota', 'This key has used up its budget. Ask an administrator to raise it.', { type: 'insufficient_quota' });
      }
    }

    return {
      async onRequestHeaders(ctx) {
        const p = ctx.principal;
        // Keys and certificate identities (mtls-identity) both carry a quota limit.
        if (!p || (p.kind !== 'api_key' && p.kind !== 'mtls')) return;
        if (options.enforce_budgets) await checkBudget(p.id, p.budgets?.tokens ?? null, p.budgets?.usd ?? null);
        if (!enabled) return;
        // Counted and enforced by Envoy's rate limit filter (implicit rule `quota`), before the
        // request goes upstream; the per-key quota_limit overrides the default. The core puts
        // the remaining quota in OpenAI's x-ratelimit-*-requests response headers.
        ctx.rateLimits.setQuota({ principal: p.id, limit: p.quotaLimit ?? defaultLimit, windowSeconds: options.window_seconds });
      },
    };
  },
});
