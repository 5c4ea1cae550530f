import type { RequestContext } from '../plugins/types';
import { MATCH_FIELDS, QUOTA_RULE, type CompiledLimit, type MatchField } from './config';

/**
 * The contract between the processor (which knows who is calling), Envoy (which builds rate
 * limit descriptors) and the RateLimitService (which counts):
 *
 * 1. While handling the request body, plugins publish the caller's dimensions as Envoy dynamic
 *    metadata in the gateway's namespace (`rl_key`, `rl_user`, ...; `ctx.setDynamicMetadata`).
 * 2. The LLM routes' rate limit policies turn them into descriptors, one entry per dimension
 *    present, plus a `kind` entry: `requests` (checked and counted before the request goes
 *    upstream), `tokens` with hits_addend 0 (checked before), and `tokens` with hits_addend
 *    from `%DYNAMIC_METADATA(llm-gateway:tokens)%` on stream done (the real usage, charged).
 * 3. The service matches each descriptor against the configured rules.
 *
 * Dynamic metadata rather than request headers: route `request_headers_to_remove` strips headers
 * from the very header map the rate limit filter reads again on stream done, so header-built
 * token descriptors would lose their dimensions before they are charged.
 */

/** Metadata keys (gateway namespace) → descriptor entry keys. */
export const DIMENSION_METADATA: Record<MatchField, string> = {
  key: 'rl_key',
  user: 'rl_user',
  team: 'rl_team',
  identity: 'rl_identity',
  model: 'rl_model',
};
/** The quota plugin's per-caller request quota: `<limit>/<window seconds>`, and whom it counts. */
export const QUOTA_METADATA = 'rl_quota';
export const PRINCIPAL_METADATA = 'rl_principal';
/** Total tokens of the finished response (set by the core when the provider reported usage). */
export const TOKENS_METADATA = 'tokens';
/**
 * Set (to 'yes': descriptor values are strings) when some limit of that kind can apply to the
 * request. Envoy builds no descriptor, and so makes no RateLimitService call, for a policy whose
 * required metadata is absent: a request no rule and no quota can touch costs no round trip.
 */
export const CHECK_METADATA: Readonly<Record<DescriptorKind, string>> = { requests: 'rl_check_requests', tokens: 'rl_check_tokens' };

/**
 * On allowed requests the service reports the caller's limits under these internal names, and
 * the plugins copy them to OpenAI's (`x-ratelimit-limit-requests`, ...), replacing the ones a
 * provider sent about the gateway's own account. Refusals carry OpenAI's names directly.
 */
export const INTERNAL_HEADER_PREFIX = 'x-gateway-ratelimit-';
const OPENAI_HEADERS = ['limit-requests', 'remaining-requests', 'reset-requests', 'limit-tokens', 'remaining-tokens', 'reset-tokens'];

/** Moves the service's internal x-gateway-ratelimit-* response headers to OpenAI's names. */
export function publishRateLimitHeaders(ctx: RequestContext): void {
  const headers = ctx.response?.headers;
  if (!headers) return;
  for (const name of OPENAI_HEADERS) {
    const value = headers.get(`${INTERNAL_HEADER_PREFIX}${name}`);
    if (value === undefined) continue;
    ctx.setResponseHeader(`x-ratelimit-${name}`, value);
    ctx.removeResponseHeader(`${INTERNAL_HEADER_PREFIX}${name}`);
  }
}

export type DescriptorKind = 'requests' | 'tokens';

export interface DescriptorEntry {
  key: string;
  value: string;
}

/** A descriptor as the service reads it. */
export interface ParsedDescriptor {
  kind: DescriptorKind | undefined;
  dims: Partial<Record<MatchField, string>>;
  quota?: { limit: number; windowMs: number; principal: string };
}

/** The descriptors' values as the processor published them for one request (metadata key → value). */
export function descriptorEntriesFrom(kind: DescriptorKind, metadata: ReadonlyMap<string, string | number>): DescriptorEntry[] {
  const entries: DescriptorEntry[] = [{ key: 'kind', value: kind }];
  const add = (key: string, metadataKey: string) => {
    const v = metadata.get(metadataKey);
    if (v !== undefined) entries.push({ key, value: String(v) });
  };
  for (const f of MATCH_FIELDS) add(f, DIMENSION_METADATA[f]);
  if (kind === 'requests') {
    add('quota', QUOTA_METADATA);
    add('principal', PRINCIPAL_METADATA);
  }
  return entries;
}

/** The kinds of limit that can apply to a request, judged from the metadata it published. */
export function applicableKinds(limits: CompiledLimit[], metadata: ReadonlyMap<string, string | number>): DescriptorKind[] {
  return (['requests', 'tokens'] as const).filter((kind) => matchLimits(limits, parseDescriptor(descriptorEntriesFrom(kind, metadata))).length > 0);
}

export function parseDescriptor(entries: DescriptorEntry[]): ParsedDescriptor {
  const d: ParsedDescriptor = { kind: undefined, dims: {} };
  let quota: string | undefined;
  let principal: string | undefined;
  for (const { key, value } of entries) {
    if (key === 'kind') d.kind = value === 'requests' || value === 'tokens' ? value : undefined;
    else if ((MATCH_FIELDS as readonly string[]).includes(key)) d.dims[key as MatchField] = value;
    else if (key === 'quota') quota = value;
    else if (key === 'principal') principal = value;
  }
  const m = quota ? /^(\d+)\/(\d+)$/.exec(quota) : null;
  if (m && principal && Number(m[2]) > 0) d.quota = { limit: Number(m[1]), windowMs: Number(m[2]) * 1000, principal };
  return d;
}

/** The counter one limit keeps for a descriptor, or undefined when the limit does not apply. */
export interface MatchedLimit {
  limit: CompiledLimit;
  /** Stable identity of the counter: rule, kind, window and the matched values. */
  counter: string;
}

/**
 * A limit applies when every field it matches is present in the descriptor with the same value
 * ('*': any value). Its counter is keyed by the values of exactly those fields, so `{key: '*'}`
 * counts per key and `{}` counts everything together.
 */
export function matchLimits(limits: CompiledLimit[], d: ParsedDescriptor): MatchedLimit[] {
  const out: MatchedLimit[] = [];
  if (!d.kind) return out;
  for (const l of limits) {
    if (l.kind !== d.kind) continue;
    let ok = true;
    const parts: string[] = [];
    for (const f of MATCH_FIELDS) {
      const want = l.match[f];
      if (want === undefined) continue;
      const have = d.dims[f];
      if (have === undefined || (want !== '*' && want !== have)) {
        ok = false;
        break;
      }
      parts.push(`${f}=${encodeURIComponent(have)}`);
    }
    if (ok) out.push({ limit: l, counter: counterId(l.rule, l.kind, l.windowMs, parts) });
  }
  if (d.kind === 'requests' && d.quota) {
    const q: CompiledLimit = { rule: QUOTA_RULE, kind: 'requests', limit: d.quota.limit, windowMs: d.quota.windowMs, match: {} };
    out.push({ limit: q, counter: counterId(QUOTA_RULE, 'requests', q.windowMs, [`principal=${encodeURIComponent(d.quota.principal)}`]) });
  }
  return out;
}

function counterId(rule: string, kind: string, windowMs: number, parts: string[]): string {
  return `${rule}:${kind}:${windowMs}:${parts.join('&')}`;
}
