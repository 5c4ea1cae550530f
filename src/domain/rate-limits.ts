/** What `rate_limits.rules` can match a request on. */
export type RateLimitDimension = 'key' | 'user' | 'team' | 'identity' | 'model';
export const RATE_LIMIT_DIMENSIONS: readonly RateLimitDimension[] = ['key', 'user', 'team', 'identity', 'model'];

/** `requests` are counted before a request goes upstream; `tokens` are checked before and charged after. */
export type RateLimitKind = 'requests' | 'tokens';

/** A per-caller request quota: `limit` requests per `windowSeconds`, counted per `principal`. */
export interface RequestQuota {
  principal: string;
  limit: number;
  windowSeconds: number;
}

/** What a request tells the rate limiter about itself: its dimensions and, optionally, a quota. */
export interface RateLimitPublication {
  dimensions: Partial<Record<RateLimitDimension, string>>;
  quota?: RequestQuota;
}
