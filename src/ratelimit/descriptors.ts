import type { RateLimitKind, RateLimitPublication } from '../domain';
import { MATCH_FIELDS, QUOTA_RULE, RULE_MATCH_FIELDS, type CompiledLimit, type MatchField } from './config';

/**
 * The contract between the processor (which knows who is calling), Envoy (which builds rate
 * limit descriptors) and the RateLimitService (which counts):
 *
 * 1. While handling the request, plugins publish the caller's dimensions and quota through the
 *    rate limit capability (`ctx.rateLimits`); the Envoy layer sends them as dynamic metadata
 *    (names in src/envoy/metadata.ts).
 * 2. The LLM routes' rate limit policies turn them into descriptors, one entry per dimension
 *    present, plus a `kind` entry: `requests` (checked and counted before the request goes
 *    upstream), `tokens` with hits_addend 0 (checked before), and `tokens` with hits_addend
 *    from `%DYNAMIC_METADATA(llm-gateway:tokens)%` on stream done (the real usage, charged).
 * 3. The service matches each descriptor against the configured rules.
 */

/**
 * On allowed requests the service reports the caller's limits under these internal names, and
 * the core copies them to OpenAI's (`x-ratelimit-limit-requests`, ...), replacing the ones a
 * provider sent about the gateway's own account. Refusals carry OpenAI's names directly.
 */
export const INTERNAL_HEADER_PREFIX = 'x-gateway-ratelimit-';

/** `tool_calls`: MCP tool calls, whose descriptors the MCP gateway builds itself (src/mcp). */
export type DescriptorKind = RateLimitKind | 'tool_calls';

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

/** The descriptor Envoy builds for a request that published `p` (see src/envoy/config/rate-limits.ts). */
export function descriptorEntriesFrom(kind: DescriptorKind, p: RateLimitPublication): DescriptorEntry[] {
  const entries: DescriptorEntry[] = [{ key: 'kind', value: kind }];
  for (const f of MATCH_FIELDS) {
    const v = p.dimensions[f];
    if (v) entries.push({ key: f, value: v });
  }
  if (kind === 'requests' && p.quota) {
    entries.push({ key: 'quota', value: `${p.quota.limit}/${p.quota.windowSeconds}` }, { key: 'principal', value: p.quota.principal });
  }
  return entries;
}

/** The kinds of limit that can apply to a request, judged from what it published. */
export function applicableKinds(limits: CompiledLimit[], p: RateLimitPublication): RateLimitKind[] {
  return (['requests', 'tokens'] as const).filter((kind) => matchLimits(limits, parseDescriptor(descriptorEntriesFrom(kind, p))).length > 0);
}

export function parseDescriptor(entries: DescriptorEntry[]): ParsedDescriptor {
  const d: ParsedDescriptor = { kind: undefined, dims: {} };
  let quota: string | undefined;
  let principal: string | undefined;
  for (const { key, value } of entries) {
    if (key === 'kind') d.kind = value === 'requests' || value === 'tokens' || value === 'tool_calls' ? value : undefined;
    else if ((RULE_MATCH_FIELDS as readonly string[]).includes(key)) d.dims[key as MatchField] = value;
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
    for (const f of RULE_MATCH_FIELDS) {
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
