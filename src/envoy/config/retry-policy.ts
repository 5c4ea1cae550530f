import type { FallbackConfig, RoutingConfig } from '../../config/types';
import type { FallbackPlanner } from '../../routing/fallbacks';

/** Envoy route retry policies, one per fallback rule, keyed by the routing-header prefix. */
export function fallbackRoutes(planner: FallbackPlanner, routing: RoutingConfig): { headerPrefix: string; retryPolicy: Record<string, unknown> }[] {
  return planner.ruleChains().map(({ headerPrefix, rule }) => ({ headerPrefix, retryPolicy: retryPolicyFor(rule.on, rule.fallback_models.length, routing) }));
}

/** Envoy retry policy for a set of `on` conditions (statuses or error classes). */
export function retryPolicyFor(on: FallbackConfig['on'], retries: number, routing: RoutingConfig): Record<string, unknown> {
  const codes = new Set<number>();
  const retryOn = new Set<string>(['reset', 'connect-failure']);
  for (const c of on) {
    if (typeof c === 'number') codes.add(c);
    else if (c === 'rate_limit_exceeded') codes.add(429);
    else if (c === 'server_error') retryOn.add('5xx');
    else if (c === 'timeout') retryOn.add('gateway-error');
    else if (c === 'connect_failure') retryOn.add('connect-failure');
  }
  if (codes.size) retryOn.add('retriable-status-codes');
  return {
    retry_on: [...retryOn].join(','),
    num_retries: retries,
    ...(codes.size ? { retriable_status_codes: [...codes] } : {}),
    ...(on.includes('timeout') && routing.per_try_timeout_seconds > 0 ? { per_try_timeout: `${routing.per_try_timeout_seconds}s` } : {}),
    // Each retry moves to the next cluster of the aggregate (the next fallback provider).
    retry_priority: {
      name: 'envoy.retry_priorities.previous_priorities',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
        update_frequency: 1,
      },
    },
    // The next attempt goes to another provider: no reason to wait out this one's retry-after.
    retry_back_off: { base_interval: '0.025s', max_interval: '0.25s' },
  };
}

/** Retries within one provider (no fallback rule): same cluster, backoff honouring retry-after. */
export function defaultRetryPolicy(routing: RoutingConfig): Record<string, unknown> {
  return {
    retry_on: routing.retry_on,
    num_retries: routing.retries,
    retriable_status_codes: routing.retry_status_codes,
    retry_back_off: { base_interval: '0.1s', max_interval: '2s' },
    rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: '10s' },
  };
}
