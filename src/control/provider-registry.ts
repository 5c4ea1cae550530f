import type { ModelMappingConfig, ProviderConfig } from '../config/types';
import { resolveSecret } from '../config/load';
import type { ModelEntry, ProviderInfo, ProviderTarget } from '../domain';
import { ownValue } from '../domain/own';
import { globMatches } from '../domain/glob';
import { translatorFor } from '../providers/translators';
import type { ProviderRuntime } from '../providers/types';

/** The translators are a static table (./translators); re-exported here where callers look for them. */
export { translatorFor };

export const clusterNameFor = (provider: string): string => `provider_${provider}`;

export function mappingsFrom(models: ModelMappingConfig[]): ModelMapping[] {
  return models.map((m) => ({
    id: m.id,
    targets: m.deployments ?? [{ provider: m.provider!, model: m.model!, weight: 1 }],
    displayName: m.display_name,
    contextWindow: m.context_window,
  }));
}

/** A provider's configuration; `translated_apis` may be left out (none). */
export type ProviderSpec = Omit<ProviderConfig, 'translated_apis'> & Partial<Pick<ProviderConfig, 'translated_apis'>>;

export function toRuntime(cfg: ProviderSpec, env: NodeJS.ProcessEnv = process.env): ProviderRuntime {
  if (!translatorFor(cfg.type)) throw new Error(`provider "${cfg.name}": unknown type "${cfg.type}"`);
  const url = new URL(cfg.base_url);
  const apiKey = resolveSecret(cfg.api_key, cfg.api_key_env, env);
  const needsKey = Boolean(cfg.api_key_env || cfg.api_key?.startsWith('env:'));
  return {
    name: cfg.name,
    type: cfg.type,
    baseUrl: url,
    basePath: url.pathname.replace(/\/+$/, ''),
    apiKey,
    headers: cfg.headers,
    models: cfg.models,
    cluster: clusterNameFor(cfg.name),
    requiresKey: needsKey,
    available: !needsKey || Boolean(apiKey),
    timeoutSeconds: cfg.timeout_seconds,
    translatedApis: cfg.translated_apis ?? [],
  };
}

/**
 * Model-name rules a provider gets when its configuration lists no `models`, by its configured
 * `type`. `openai-compatible` has none on purpose: such a server (vLLM, Ollama, ...) serves
 * names of its own choosing, and OpenAI's rules would take `gpt-*` from a real `openai`
 * provider listed after it. README's provider table shows the same rules.
 */
export const DEFAULT_MODEL_PATTERNS: Record<string, string[]> = {
  openai: ['gpt-*', 'o1*', 'o3*', 'o4*', 'chatgpt-*', 'text-embedding-*'],
  anthropic: ['claude-*'],
  google: ['gemini-*', 'text-embedding-004', 'gemini-embedding-*'],
  gemini: ['gemini-*', 'text-embedding-004', 'gemini-embedding-*'],
  meta: ['llama-*', 'Llama-*'],
  cohere: ['command-*', 'embed-*'],
};

/** A public model id mapped to one or more weighted provider deployments. */
export interface ModelMapping {
  id: string;
  targets: { provider: string; model: string; weight: number }[];
  displayName?: string;
  contextWindow?: number;
}


/**
 * The providers and the rules that pick one for a model: explicit mappings first (with
 * weighted deployments), then `provider/model` or `provider.model`, then each provider's model
 * patterns (configured, or its type's defaults) in configuration order. Providers can be added
 * and removed at run time; the rules are rebuilt on every change.
 */
export class ProviderRegistry {
  private readonly byName = new Map<string, ProviderRuntime>();
  private rules: { pattern: string; provider: ProviderRuntime }[] = [];
  private mappings = new Map<string, ModelMapping>();

  constructor(providers: ProviderRuntime[] = [], mappings: ModelMapping[] = [], private readonly random: () => number = Math.random) {
    for (const p of providers) this.byName.set(p.name, p);
    for (const m of mappings) this.mappings.set(m.id, m);
    this.rebuildRules();
  }

  private rebuildRules(): void {
    this.rules = [];
    for (const p of this.byName.values()) {
      const patterns = p.models.length ? p.models : (ownValue(DEFAULT_MODEL_PATTERNS, p.type) ?? []);
      for (const m of patterns) this.rules.push({ pattern: m, provider: p });
    }
  }

  get(name: string): ProviderRuntime | undefined {
    return this.byName.get(name);
  }

  all(): ProviderRuntime[] {
    return [...this.byName.values()];
  }

  /** Adds or replaces a provider (live provider management). */
  upsert(p: ProviderRuntime): void {
    this.byName.set(p.name, p);
    this.rebuildRules();
  }

  remove(name: string): boolean {
    const had = this.byName.delete(name);
    if (had) this.rebuildRules();
    return had;
  }

  info(p: ProviderRuntime): ProviderInfo {
    return { name: p.name, type: p.type, models: p.models, available: p.available };
  }

  resolve(model: string): ProviderTarget | undefined {
    const mapping = this.mappings.get(model);
    if (mapping) return this.pickDeployment(mapping);
    for (const sep of ['/', '.']) {
      const i = model.indexOf(sep);
      if (i <= 0) continue;
      const p = this.byName.get(model.slice(0, i));
      if (p && i < model.length - 1) return { provider: p.name, type: p.type, model: model.slice(i + 1) };
    }
    for (const { pattern, provider } of this.rules) {
      if (globMatches(pattern, model)) return { provider: provider.name, type: provider.type, model };
    }
    return undefined;
  }

  /** Every target a model may resolve to: all live deployments of a mapping, else the one target. */
  candidates(model: string): ProviderTarget[] {
    const mapping = this.mappings.get(model);
    if (!mapping) {
      const t = this.resolve(model);
      return t ? [t] : [];
    }
    return mapping.targets
      .filter((t) => this.byName.has(t.provider) && t.weight > 0)
      .map((t) => ({ provider: t.provider, type: this.byName.get(t.provider)!.type, model: t.model }));
  }

  /** Weighted random choice among the mapping's deployments whose provider exists. */
  private pickDeployment(m: ModelMapping): ProviderTarget | undefined {
    const live = m.targets.filter((t) => this.byName.has(t.provider) && t.weight > 0);
    const total = live.reduce((n, t) => n + t.weight, 0);
    let r = this.random() * total;
    for (const t of live) {
      r -= t.weight;
      if (r < 0 || t === live[live.length - 1]) {
        const p = this.byName.get(t.provider)!;
        return { provider: p.name, type: p.type, model: t.model };
      }
    }
    return undefined;
  }

  /**
   * The models that can be listed: mappings, and the exact (non-pattern) model names providers
   * declare. Patterns such as `gpt-*` route requests but name no model to list. An exact name is
   * listed with the provider resolve() sends it to (an earlier provider's pattern, or a
   * `provider/` prefix, can win over the provider that declares it), as chat would.
   */
  catalog(): ModelEntry[] {
    const out = new Map<string, ModelEntry>();
    for (const m of this.mappings.values()) {
      const provider = m.targets.find((t) => this.byName.has(t.provider))?.provider;
      if (provider) out.set(m.id, { id: m.id, provider, displayName: m.displayName, contextWindow: m.contextWindow });
    }
    for (const p of this.byName.values()) {
      for (const name of p.models) {
        // A mapping id is the mapping's (none listed when none of its providers is left: chat 404s).
        if (name.includes('*') || out.has(name) || this.mappings.has(name)) continue;
        const target = this.resolve(name);
        if (target) out.set(name, { id: name, provider: target.provider });
      }
    }
    return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}
