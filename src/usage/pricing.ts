import type { PriceBook } from '../plugins/api';
import type { TokenUsage } from '../domain';
import { ownValue } from '../domain/own';
import type { ModelPriceConfig as ModelPrice, PricingConfig } from '../config/types';

export type { ModelPrice, PricingConfig };

export class Pricing implements PriceBook {
  /** A Map, not an object: a model named `constructor` or `__proto__` finds no inherited price. */
  private readonly exact = new Map<string, ModelPrice>();
  private readonly patterns: [string, ModelPrice][];

  constructor(private readonly cfg: PricingConfig) {
    const patterns: [string, ModelPrice][] = [];
    for (const [model, price] of Object.entries(cfg.models)) {
      if (model.endsWith('*')) patterns.push([model.slice(0, -1), price]);
      else this.exact.set(model, price);
    }
    this.patterns = patterns.sort((a, b) => b[0].length - a[0].length);
  }

  priceOf(model: string): ModelPrice | undefined {
    return this.exact.get(model) ?? this.patterns.find(([prefix]) => model.startsWith(prefix))?.[1];
  }

  cost(model: string, usage: TokenUsage, tier?: string | null): number | undefined {
    const price = this.priceOf(model);
    if (!price) return undefined;
    const cached = Math.min(usage.cachedTokens ?? 0, usage.promptTokens);
    const base =
      ((usage.promptTokens - cached) * price.input + cached * (price.cached_input ?? price.input) + usage.completionTokens * price.output) / 1e6;
    // Own entries only: a tier named `constructor` must not multiply by a function (NaN).
    const multiplier = (tier ? ownValue(this.cfg.tier_multipliers, tier) : undefined) ?? 1;
    // Micro-dollar precision keeps sums exact enough without float noise in reports.
    return Math.round(base * multiplier * 1e8) / 1e8;
  }
}
