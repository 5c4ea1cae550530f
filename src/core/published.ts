import type { RateLimitKind, RateLimitPublication } from '../domain';

/**
 * What a reply to Envoy publishes about the request, in the gateway's terms; the Envoy layer
 * turns it into dynamic metadata (src/envoy/metadata.ts).
 */
export interface Published {
  /** Values plugins set with ctx.setDynamicMetadata, under their own names. */
  metadata?: ReadonlyMap<string, string | number>;
  /** The request's rate limit dimensions and quota. */
  rateLimit?: RateLimitPublication;
  /** The kinds of rate limit that can apply (none: no RateLimitService call). */
  checks?: readonly RateLimitKind[];
  /** The response's total tokens, charged to the token limits when the stream is done. */
  tokens?: number;
  /** This exchange's id, for the per-attempt streams of a fallback chain. */
  exchangeId?: string;
}
