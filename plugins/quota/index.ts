import { GatewayError } from '../../src/errors';
import { definePlugin } from '../../src/plugins/types';

/**
 * Per-key request quota over a sliding window (default 100 requests per hour, as the original
 * gateway: QUOTA_ENABLED and QUOTA_LIMIT), overridable per key, plus the keys' token and
 * dollar budgets. Over quota: 429 with retry-after and OpenAI-style x-ratelimit-* headers.
 *
 * Counters are per gateway process; Envoy's global rate limiting (Redis-backed) shares them
 * across replicas.
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

/** Sliding-window log: the request times within the window, oldest first. */
class Window {
  private times: number[] = [];
  private head = 0;

  /** Drops expired entries and returns how many remain. */
  count(now: number, windowMs: number): number {
    while (this.head < this.times.length && this.times[this.head] <= now - windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  oldest(): number | undefined {
    return this.times[this.head];
  }

  add(now: number): void {
    this.times.push(now);
  }
}

const envBool = (v: string | undefined) => (v === undefined ? undefined : !/^(0|false|no|off)$/i.test(v.trim()));

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
    const enabled = options.enabled ?? envBool(process.env.QUOTA_ENABLED) ?? true;
    const defaultLimit = options.limit ?? (Number(process.env.QUOTA_LIMIT) || 100);
    const windowMs = options.window_seconds * 1000;
    const windows = new Map<string, Window>();
    const spend = new Map<string, { at: number; tokens: number; cost: number }>();
    host.log.info({ enabled, limit: defaultLimit, window_seconds: options.window_seconds }, 'request quota');

    // Forget idle keys so the map does not grow with every key ever seen.
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, w] of windows) if (w.count(now, windowMs) === 0) windows.delete(id);
    }, Math.min(windowMs, 60000));
    sweep.unref();

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
        if (!p || p.kind !== 'api_key') return;
        const attrs = (p.attributes ?? {}) as { quotaLimit?: number | null; tokenBudget?: number | null; budgetUsd?: number | null };
        if (options.enforce_budgets) await checkBudget(p.id, attrs.tokenBudget ?? null, attrs.budgetUsd ?? null);
        if (!enabled) return;
        const limit = attrs.quotaLimit ?? defaultLimit;
        const now = Date.now();
        let w = windows.get(p.id);
        if (!w) windows.set(p.id, (w = new Window()));
        const used = w.count(now, windowMs);
        const resetMs = Math.max(0, (w.oldest() ?? now) + windowMs - now);
        if (used >= limit) {
          const retry = Math.max(1, Math.ceil(resetMs / 1000));
          throw new GatewayError(429, 'rate_limit_exceeded', `Rate limit reached: ${limit} requests per ${options.window_seconds} s for this key. Retry in ${retry} s.`, {
            headers: {
              'retry-after': String(retry),
              'x-ratelimit-limit-requests': String(limit),
              'x-ratelimit-remaining-requests': '0',
              'x-ratelimit-reset-requests': `${retry}s`,
            },
          });
        }
        w.add(now);
        ctx.setResponseHeader('x-ratelimit-limit-requests', String(limit));
        ctx.setResponseHeader('x-ratelimit-remaining-requests', String(limit - used - 1));
        ctx.setResponseHeader('x-ratelimit-reset-requests', `${Math.ceil((used === 0 ? windowMs : resetMs) / 1000)}s`);
      },
      close() {
        clearInterval(sweep);
      },
    };
  },
});
