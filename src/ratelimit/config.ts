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
 */

/** What a rule can match on: the caller (key, user, team, certificate identity) and the model. */
export const MATCH_FIELDS = ['key', 'user', 'team', 'identity', 'model'] as const;
export type MatchField = (typeof MATCH_FIELDS)[number];

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

export type RequestLimitName = keyof typeof REQUEST_LIMITS;
export type TokenLimitName = keyof typeof TOKEN_LIMITS;

export interface RateLimitRuleConfig {
  name: string;
  /** Field → exact value, or '*' for one counter per distinct value. Empty: one global counter. */
  match: Partial<Record<MatchField, string>>;
  requests_per_second?: number;
  requests_per_minute?: number;
  requests_per_hour?: number;
  requests_per_day?: number;
  tokens_per_minute?: number;
  tokens_per_day?: number;
}

export interface LocalRateLimitConfig {
  requests_per_second: number;
  /** Bucket size: requests allowed in a burst (default: requests_per_second). */
  burst?: number;
}

export interface RateLimitsConfig {
  /** Envoy's rate limit domain (one per gateway deployment sharing a Redis). */
  domain: string;
  failure_mode: 'fail_open' | 'fail_closed';
  timeout_ms: number;
  /** redis://… for counters shared by replicas; defaults to $REDIS_URL, else in-process counters. */
  redis_url?: string;
  rules: RateLimitRuleConfig[];
  local?: LocalRateLimitConfig;
}

const limit = { type: 'integer', minimum: 0 } as const;

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
    match: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: Object.fromEntries(MATCH_FIELDS.map((f) => [f, { type: 'string', minLength: 1 }])),
    },
    ...Object.fromEntries(Object.keys(REQUEST_LIMITS).map((k) => [k, limit])),
    ...Object.fromEntries(Object.keys(TOKEN_LIMITS).map((k) => [k, limit])),
  },
} as const;

/** JSON Schema of `rate_limits` (referenced from src/config/schema.ts). */
export const rateLimitsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    domain: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', default: 'llm-gateway' },
    failure_mode: { enum: ['fail_open', 'fail_closed'], default: 'fail_open' },
    // Envoy's own default (20 ms) is too tight for a Redis round trip under load.
    timeout_ms: { type: 'integer', minimum: 10, maximum: 60000, default: 250 },
    redis_url: { type: 'string', pattern: '^(rediss?://.*)?$' },
    rules: { type: 'array', items: rule, default: [] },
    local: {
      type: 'object',
      additionalProperties: false,
      required: ['requests_per_second'],
      properties: {
        requests_per_second: { type: 'integer', minimum: 1 },
        burst: { type: 'integer', minimum: 1 },
      },
    },
  },
} as const;

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
    if (req.length > 1) problems.push(`${at}: set one of ${req.join(', ')}, not several`);
    if (tok.length > 1) problems.push(`${at}: set one of ${tok.join(', ')}, not several`);
    if (req.length + tok.length === 0) problems.push(`${at}: needs a limit (requests_per_second|minute|hour|day or tokens_per_minute|day)`);
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
  kind: 'requests' | 'tokens';
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
  }
  return out;
}

/** Whether any rule limits tokens (Envoy then checks and charges token descriptors). */
export function hasTokenRules(config: RateLimitsConfig | undefined): boolean {
  return Boolean(config?.rules.some((r) => Object.keys(TOKEN_LIMITS).some((k) => r[k as TokenLimitName] !== undefined)));
}
