import type { RateLimitKind, RateLimitPublication } from '../domain';
import { RATE_LIMIT_DIMENSIONS, type RateLimitDimension } from '../domain';

/**
 * Every name the gateway shares with Envoy through dynamic metadata, in one place.
 *
 * The processor publishes values in its own namespace; filters after it read them: the rate
 * limit filter builds descriptors from the `rl_*` values (see config/rate-limits.ts), the
 * provider clusters' ext_proc forwards `exchange` so an attempt finds its request, and access
 * logs may read any of them.
 *
 * Dynamic metadata rather than request headers: route `request_headers_to_remove` strips headers
 * from the very header map the rate limit filter reads again on stream done, so header-built
 * token descriptors would lose their dimensions before they are charged.
 */
export const METADATA_NAMESPACE = 'llm-gateway';

/** The exchange id, which a provider cluster's per-attempt stream uses to find its request. */
export const EXCHANGE_METADATA = 'exchange';

/** gRPC initial metadata on a provider cluster's ext_proc stream: which provider it serves. */
export const UPSTREAM_PROVIDER_METADATA = 'x-gateway-upstream-provider';

/** Rate limit dimensions → metadata keys. */
export const DIMENSION_METADATA: Readonly<Record<RateLimitDimension, string>> = {
  key: 'rl_key',
  user: 'rl_user',
  team: 'rl_team',
  identity: 'rl_identity',
  model: 'rl_model',
};
/** A per-caller request quota: `<limit>/<window seconds>`, and whom it counts. */
export const QUOTA_METADATA = 'rl_quota';
export const PRINCIPAL_METADATA = 'rl_principal';
/** Total tokens of the finished response, charged by the token limits on stream done. */
export const TOKENS_METADATA = 'tokens';
/**
 * Set (to 'yes': descriptor values are strings) when some limit of that kind can apply to the
 * request. Envoy builds no descriptor, and so makes no RateLimitService call, for a policy whose
 * required metadata is absent: a request no rule and no quota can touch costs no round trip.
 */
export const CHECK_METADATA: Readonly<Record<RateLimitKind, string>> = { requests: 'rl_check_requests', tokens: 'rl_check_tokens' };

/** What the core asks to publish with one reply to Envoy. */
export interface Publication {
  /** Values plugins set with ctx.setDynamicMetadata, under their own names. */
  metadata?: ReadonlyMap<string, string | number>;
  rateLimit?: RateLimitPublication;
  checks?: readonly RateLimitKind[];
  tokens?: number;
  exchangeId?: string;
}

/** The publication as metadata key → value in the gateway's namespace. */
export function metadataValues(p: Publication): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (p.metadata) for (const [k, v] of p.metadata) out[k] = v;
  if (p.rateLimit) {
    for (const d of RATE_LIMIT_DIMENSIONS) {
      const v = p.rateLimit.dimensions[d];
      if (v) out[DIMENSION_METADATA[d]] = v;
    }
    const q = p.rateLimit.quota;
    if (q) {
      out[QUOTA_METADATA] = `${q.limit}/${q.windowSeconds}`;
      out[PRINCIPAL_METADATA] = q.principal;
    }
  }
  for (const kind of p.checks ?? []) out[CHECK_METADATA[kind]] = 'yes';
  if (p.tokens !== undefined) out[TOKENS_METADATA] = p.tokens;
  if (p.exchangeId !== undefined) out[EXCHANGE_METADATA] = p.exchangeId;
  return out;
}

/**
 * The rate limit values a request published, whether through the rate limit capability or, as
 * plugins written before it did, as raw `rl_*` metadata (the capability wins).
 */
export function rateLimitPublication(capability: RateLimitPublication, metadata: ReadonlyMap<string, string | number>): RateLimitPublication {
  if (metadata.size === 0) return capability;
  const dimensions = { ...capability.dimensions };
  for (const d of RATE_LIMIT_DIMENSIONS) {
    const v = metadata.get(DIMENSION_METADATA[d]);
    if (dimensions[d] === undefined && v !== undefined && v !== '') dimensions[d] = String(v);
  }
  let quota = capability.quota;
  if (!quota) {
    const m = /^(\d+)\/(\d+)$/.exec(String(metadata.get(QUOTA_METADATA) ?? ''));
    const principal = metadata.get(PRINCIPAL_METADATA);
    if (m && principal !== undefined) quota = { limit: Number(m[1]), windowSeconds: Number(m[2]), principal: String(principal) };
  }
  return { dimensions, quota };
}
