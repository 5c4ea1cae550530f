import type { FallbackConfig } from '../config/types';
import type { RoutePlan } from '../core/attempts';
import type { RequestContext } from '../plugins/api';
import type { ProviderTarget } from '../domain';
import type { ProviderRegistry } from '../control/provider-registry';

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

  /** Each rule with the routing-header prefix of its chains. */
  ruleChains(): { headerPrefix: string; rule: FallbackConfig }[] {
    return this.rules.map((rule, i) => ({ headerPrefix: chainPrefix(i), rule }));
  }
}
