/**
 * The `rate_limits` section of gateway.yaml: global limits enforced by Envoy's rate limit filter
 * against the processor's RateLimitService, plus Envoy's per-instance local limit.
 *
 *   rate_limits:
 *     failure_mode: fail_open          # or fail_closed: refuse while the counters are unreachable
 *     timeout_ms: 250                  # Envoy's deadline for one ShouldRateLimit call
 *     redis_url: redis://redis:6379    # default $REDIS_URL; in-process counters when unset
 *     rules:
 *       - name: per-key
 *         match: { key: '*' }          # '*': one counter per distinct value
 *         requests_per_minute: 60
 *         tokens_per_minute: 100000
 *       - name: team-qa-gpt4o
 *         match: { team: qa, model: gpt-4o }
 *         requests_per_day: 1000
 *     local: { requests_per_second: 500, burst: 1000 }
 *
 * The types are derived from the schemas (Defaulted: properties with a default are present).
 */

import { Type } from '@sinclair/typebox';
import { Closed, Default, OptionalEach, StringEnum, type Defaulted } from '../config/schema-kit';

/** What a rule can match on: the caller (key, user, team, certificate identity) and the model. */
export const MATCH_FIELDS = ['key', 'user', 'team', 'identity', 'model'] as const;
/** MCP tool calls (src/mcp) also match on the upstream server and the namespaced tool name. */
export const MCP_MATCH_FIELDS = ['mcp_server', 'mcp_tool'] as const;
/** Every field a rule can match on (Envoy's descriptors carry MATCH_FIELDS only). */
export const RULE_MATCH_FIELDS = [...MATCH_FIELDS, ...MCP_MATCH_FIELDS] as const;
export type MatchField = (typeof RULE_MATCH_FIELDS)[number];

export const REQUEST_LIMITS = {
  requests_per_second: 1000,
  requests_per_minute: 60_000,
  requests_per_hour: 3_600_000,
  requests_per_day: 86_400_000,
} as const;

export const TOKEN_LIMITS = {
  tokens_per_minute: 60_000,
  tokens_per_day: 86_400_000,
} as const;

/** MCP tool calls through /mcp, counted by the MCP gateway itself (not by Envoy). */
export const TOOL_CALL_LIMITS = {
  tool_calls_per_minute: 60_000,
  tool_calls_per_hour: 3_600_000,
  tool_calls_per_day: 86_400_000,
} as const;

export type ToolCallLimitName = keyof typeof TOOL_CALL_LIMITS;
const TOOL_CALL_LIMIT_NAMES = Object.keys(TOOL_CALL_LIMITS) as ToolCallLimitName[];

export type RequestLimitName = keyof typeof REQUEST_LIMITS;
export type TokenLimitName = keyof typeof TOKEN_LIMITS;

const REQUEST_LIMIT_NAMES = Object.keys(REQUEST_LIMITS) as RequestLimitName[];
const TOKEN_LIMIT_NAMES = Object.keys(TOKEN_LIMITS) as TokenLimitName[];

const limit = Type.Integer({ minimum: 0 });

export const rateLimitRuleSchema = Closed({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }),
  /** Field → exact value, or '*' for one counter per distinct value. Empty: one global counter. */
  match: Default(Closed(OptionalEach(RULE_MATCH_FIELDS, Type.String({ minLength: 1 }))), {}),
  ...OptionalEach(REQUEST_LIMIT_NAMES, limit),
  ...OptionalEach(TOKEN_LIMIT_NAMES, limit),
  ...OptionalEach(TOOL_CALL_LIMIT_NAMES, limit),
});

export const localRateLimitSchema = Closed({
  requests_per_second: Type.Integer({ minimum: 1 }),
  /** Bucket size: requests allowed in a burst (default: requests_per_second). */
  burst: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** JSON Schema of `rate_limits` (referenced from src/config/schema.ts). */
export const rateLimitsSchema = Default(
  Closed({
    /** Envoy's rate limit domain (one per gateway deployment sharing a Redis). */
    domain: Default(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }), 'llm-gateway'),
    failure_mode: Default(StringEnum(['fail_open', 'fail_closed']), 'fail_open'),
    // Envoy's own default (20 ms) is too tight for a Redis round trip under load.
    timeout_ms: Default(Type.Integer({ minimum: 10, maximum: 60000 }), 250),
    /** redis://… for counters shared by replicas; defaults to $REDIS_URL, else in-process counters. */
    redis_url: Type.Optional(Type.String({ pattern: '^(rediss?://.*)?$' })),
    rules: Default(Type.Array(rateLimitRuleSchema), []),
    local: Type.Optional(localRateLimitSchema),
  }),
  {},
);

export type RateLimitRuleConfig = Defaulted<typeof rateLimitRuleSchema>;
export type LocalRateLimitConfig = Defaulted<typeof localRateLimitSchema>;
export type RateLimitsConfig = Defaulted<typeof rateLimitsSchema>;

/** Checks JSON Schema cannot express: one request limit and one token limit at most, unique names. */
export function rateLimitProblems(config: RateLimitsConfig | undefined): string[] {
  if (!config) return [];
  const problems: string[] = [];
  const names = new Set<string>();
  config.rules.forEach((r, i) => {
    const at = `rate_limits.rules[${i}]`;
    if (names.has(r.name)) problems.push(`${at}.name: duplicate rule "${r.name}"`);
    if (r.name === QUOTA_RULE) problems.push(`${at}.name: "${QUOTA_RULE}" is reserved for the per-key quota (plugins: quota)`);
    names.add(r.name);
    const req = Object.keys(REQUEST_LIMITS).filter((k) => r[k as RequestLimitName] !== undefined);
    const tok = Object.keys(TOKEN_LIMITS).filter((k) => r[k as TokenLimitName] !== undefined);
    const calls = TOOL_CALL_LIMIT_NAMES.filter((k) => r[k] !== undefined);
    if (req.length > 1) problems.push(`${at}: set one of ${req.join(', ')}, not several`);
    if (tok.length > 1) problems.push(`${at}: set one of ${tok.join(', ')}, not several`);
    if (calls.length > 1) problems.push(`${at}: set one of ${calls.join(', ')}, not several`);
    if (req.length + tok.length + calls.length === 0) {
      problems.push(`${at}: needs a limit (requests_per_second|minute|hour|day, tokens_per_minute|day or tool_calls_per_minute|hour|day)`);
    }
  });
  if (config.local && config.local.burst !== undefined && config.local.burst < config.local.requests_per_second) {
    problems.push('rate_limits.local.burst: must be at least requests_per_second');
  }
  return problems;
}

/** The implicit rule carrying the per-key request quota of the `quota` plugin. */
export const QUOTA_RULE = 'quota';

/** One counter a rule keeps per distinct combination of its matched values. */
export interface CompiledLimit {
  rule: string;
  kind: 'requests' | 'tokens' | 'tool_calls';
  limit: number;
  windowMs: number;
  match: Partial<Record<MatchField, string>>;
}

/** Splits the configured rules into their request and token limits. */
export function compileRules(rules: RateLimitRuleConfig[]): CompiledLimit[] {
  const out: CompiledLimit[] = [];
  for (const r of rules) {
    for (const [k, windowMs] of Object.entries(REQUEST_LIMITS)) {
      const n = r[k as RequestLimitName];
      if (n !== undefined) out.push({ rule: r.name, kind: 'requests', limit: n, windowMs, match: r.match ?? {} });
    }
    for (const [k, windowMs] of Object.entries(TOKEN_LIMITS)) {
      const n = r[k as TokenLimitName];
      if (n !== undefined) out.push({ rule: r.name, kind: 'tokens', limit: n, windowMs, match: r.match ?? {} });
    }
    for (const [k, windowMs] of Object.entries(TOOL_CALL_LIMITS)) {
      const n = r[k as ToolCallLimitName];
      if (n !== undefined) out.push({ rule: r.name, kind: 'tool_calls', limit: n, windowMs, match: r.match ?? {} });
    }
  }
  return out;
}

/** Whether any rule limits tokens (Envoy then checks and charges token descriptors). */
export function hasTokenRules(config: RateLimitsConfig | undefined): boolean {
  return Boolean(config?.rules.some((r) => Object.keys(TOKEN_LIMITS).some((k) => r[k as TokenLimitName] !== undefined)));
}
