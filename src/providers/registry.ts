import type { ProviderConfig } from '../config/types';
import { resolveSecret } from '../config/load';
import type { ProviderInfo, ProviderTarget } from '../plugins/types';
import fs from 'node:fs';
import path from 'node:path';
import type { ProviderRuntime, ProviderTranslator } from './types';

const translators = new Map<string, ProviderTranslator>();

/** Makes a translator available as a provider `type`. */
export function registerTranslator(t: ProviderTranslator, ...aliases: string[]): void {
  for (const name of [t.type, ...aliases]) translators.set(name, t);
}

/**
 * Built-in providers are the folders beside this file: each has an index exporting
 * `translator` (and optional `aliases`). Adding a provider is adding a folder.
 */
function registerBuiltins(): void {
  for (const entry of fs.readdirSync(__dirname, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const index = ['index.js', 'index.ts'].map((f) => path.join(__dirname, entry.name, f)).find((f) => fs.existsSync(f));
    if (!index) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(index) as { translator?: ProviderTranslator; aliases?: string[] };
    if (mod.translator) registerTranslator(mod.translator, ...(mod.aliases ?? []));
  }
}
registerBuiltins();

export function translatorFor(type: string): ProviderTranslator | undefined {
  return translators.get(type);
}

export const clusterNameFor = (provider: string): string => `provider_${provider}`;

/** Glob with `*` only, anchored: `gpt-*` matches `gpt-4o`. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export function toRuntime(cfg: ProviderConfig, env: NodeJS.ProcessEnv = process.env): ProviderRuntime {
  if (!translators.has(cfg.type)) throw new Error(`provider "${cfg.name}": unknown type "${cfg.type}"`);
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
  };
}

/** The configured providers and the model-name rules that pick one. */
export class ProviderRegistry {
  private readonly byName = new Map<string, ProviderRuntime>();
  private rules: { re: RegExp; provider: ProviderRuntime }[] = [];

  constructor(providers: ProviderRuntime[] = []) {
    for (const p of providers) this.byName.set(p.name, p);
    this.rebuildRules();
  }

  private rebuildRules(): void {
    this.rules = [];
    for (const p of this.byName.values()) for (const m of p.models) this.rules.push({ re: globToRegExp(m), provider: p });
  }

  get(name: string): ProviderRuntime | undefined {
    return this.byName.get(name);
  }

  all(): ProviderRuntime[] {
    return [...this.byName.values()];
  }

  info(p: ProviderRuntime): ProviderInfo {
    return { name: p.name, type: p.type, models: p.models, available: p.available };
  }

  /** `provider/model` first, then the providers' model patterns in configuration order. */
  resolve(model: string): ProviderTarget | undefined {
    const slash = model.indexOf('/');
    if (slash > 0) {
      const p = this.byName.get(model.slice(0, slash));
      if (p) return { provider: p.name, type: p.type, model: model.slice(slash + 1) };
    }
    for (const { re, provider } of this.rules) {
      if (re.test(model)) return { provider: provider.name, type: provider.type, model };
    }
    return undefined;
  }
}
