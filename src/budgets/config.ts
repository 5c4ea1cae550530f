import { Type } from '@sinclair/typebox';
import { Closed, Default, MapOf, type Defaulted } from '../config/schema-kit';

/**
 * `budgets:` in gateway.yaml (docs/budgets.md). Keys carry their own budgets (`token_budget`,
 * `budget_usd`); teams get theirs here. Budgets are lifetime totals, as the keys' are.
 *
 *   budgets:
 *     redis_url: redis://redis:6379      # default rate_limits.redis_url, then $REDIS_URL; else in-process
 *     redis_prefix: 'budget:'            # keeps deployments that share a Redis apart
 *     default_max_output_tokens: 4096    # a request's output ceiling when it sets none
 *     step_tokens: 256                   # how much more a stream holds at a time
 *     hold_ttl_seconds: 900              # a hold left by a process that died expires after this
 *     teams:
 *       research: { tokens: 5000000, usd: 200 }
 */
export const teamBudgetSchema = Closed({
  tokens: Type.Optional(Type.Integer({ minimum: 0 })),
  usd: Type.Optional(Type.Number({ minimum: 0 })),
});

export const budgetsSchema = Default(
  Closed({
    redis_url: Type.Optional(Type.String({ pattern: '^(rediss?://.*)?$' })),
    /** Prefix of the ledger's Redis keys: deployments sharing a Redis keep their budgets apart. */
    redis_prefix: Default(Type.String({ pattern: '^[A-Za-z0-9_.:{}-]*$' }), 'budget:'),
    default_max_output_tokens: Default(Type.Integer({ minimum: 1 }), 4096),
    step_tokens: Default(Type.Integer({ minimum: 1 }), 256),
    hold_ttl_seconds: Default(Type.Integer({ minimum: 1 }), 900),
    /** Per-command deadline for the Redis ledger (a request waits for it before going upstream). */
    timeout_ms: Default(Type.Integer({ minimum: 10, maximum: 60000 }), 500),
    teams: Default(MapOf(teamBudgetSchema), {}),
  }),
  {},
);

export type BudgetsConfig = Defaulted<typeof budgetsSchema>;

/** The defaults above, for a ledger made without a configuration (tests, tools). */
export const DEFAULT_BUDGETS: BudgetsConfig = { redis_prefix: 'budget:', default_max_output_tokens: 4096, step_tokens: 256, hold_ttl_seconds: 900, timeout_ms: 500, teams: {} };
