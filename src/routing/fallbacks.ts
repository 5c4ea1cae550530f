import type { FallbackConfig, RoutingConfig } from '../config/types';
import type { RoutePlan } from '../core/attempts';
import type { ProviderTarget, RequestContext } from '../plugins/types';
import type { ProviderRegistry } from '../providers/registry';

/** A chain: Envoy aggregate cluster trying provider clusters in order (primary first). */
export interface Chain {
  name: string;
  clusters: string[];
}

const chainPrefix = (rule: number) => `chain_${rule}_`;

/**
 * Fallback rules (`{model, fallback_models, on}`) as Envoy sees them: for each rule and each
 * provider its model can start on, an aggregate cluster of the providers to try in order, and
 * a route (matched by the routing header's `chain_<rule>_` prefix) whose retry policy moves to
 * the next cluster on the rule's conditions. The processor translates each attempt for its own
 * provider, so a fallback to another provider is a native request to that provider.
 */
export class FallbackPlanner {
  constructor(
    private readonly rules: FallbackConfig[],
    private readonly registry: ProviderRegistry,
  ) {}

  private ruleFor(model: string | undefined, target: ProviderTarget): number {
    return this.rules.findIndex((r) => r.model === model || r.model === target.model);
  }

  plan(ctx: RequestContext, target: ProviderTarget): RoutePlan {
    const primary = this.registry.get(target.provider)!;
    const i = this.ruleFor(ctx.request.model, target);
    if (i < 0) return { cluster: primary.cluster, targets: [target] };
    const targets = [target];
    // Fallback models resolve deterministically (a mapping's first deployment) so the targets
    // match the clusters of the chain Envoy was given.
    for (const m of this.rules[i].fallback_models) {
      const t = this.registry.candidates(m)[0];
      if (t) targets.push(t);
    }
    return { cluster: chainPrefix(i) + target.provider, targets };
  }

  /** Every aggregate cluster the rules need with the current providers. */
  chains(): Chain[] {
    const out: Chain[] = [];
    this.rules.forEach((rule, i) => {
      const fallbackClusters = rule.fallback_models
        .map((m) => this.registry.candidates(m)[0])
        .filter((t): t is ProviderTarget => Boolean(t))
        .map((t) => this.registry.get(t.provider)!.cluster);
      // A weighted mapping may start on any of its deployments: one chain per starting provider.
      const starts = new Set(this.registry.candidates(rule.model).map((t) => t.provider));
      for (const name of starts) {
        // An aggregate cluster lists each child once; a retry on the same provider stays there.
        const clusters = [...new Set([this.registry.get(name)!.cluster, ...fallbackClusters])];
        out.push({ name: chainPrefix(i) + name, clusters });
      }
    });
    return out;
  }

  /** Envoy route retry policies, one per rule, keyed by the routing-header prefix. */
  routes(routing: RoutingConfig): { headerPrefix: string; retryPolicy: Record<string, unknown>; perTryTimeout?: string }[] {
    return this.rules.map((rule, i) => ({ headerPrefix: chainPrefix(i), retryPolicy: retryPolicyFor(rule.on, rule.fallback_models.length, routing) }));
  }
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
