import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv from 'ajv';
import { describeSchemaError, ConfigError } from '../config/load';
import type { PluginConfig } from '../config/types';
import { BUILTIN_PLUGIN_DIR, COMPILED } from '../paths';
import { inheritedNameProblems } from '../domain/own';
import type { PluginDefinition } from './api';


const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

function isPathLike(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec);
}

/** Where `use` points: a built-in name, a file path (relative to the config), or an npm package. */
export function resolvePluginModule(use: string, baseDir: string): string {
  if (isPathLike(use)) return path.resolve(baseDir, use);
  const builtin = path.join(BUILTIN_PLUGIN_DIR, use, COMPILED ? 'index.js' : 'index.ts');
  if (fs.existsSync(builtin)) return builtin;
  try {
    return require.resolve(use, { paths: [baseDir, process.cwd()] });
  } catch {
    throw new ConfigError(`plugin "${use}" not found: not a built-in (${BUILTIN_PLUGIN_DIR}), a file, or an installed package`);
  }
}

function pickDefinition(mod: unknown): PluginDefinition | undefined {
  const candidates = [mod, (mod as { default?: unknown })?.default, (mod as { plugin?: unknown })?.plugin];
  for (const c of candidates) {
    const def = c as PluginDefinition | undefined;
    if (def && typeof def === 'object' && typeof def.name === 'string' && typeof def.create === 'function') return def;
  }
  return undefined;
}

export async function importPlugin(use: string, baseDir: string): Promise<PluginDefinition> {
  const file = resolvePluginModule(use, baseDir);
  let mod: unknown;
  try {
    // ES modules need import(); CommonJS goes through require so jest and ts-node keep working.
    mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (err) {
    throw new ConfigError(`plugin "${use}" failed to load: ${(err as Error).message}`);
  }
  const def = pickDefinition(mod);
  if (!def) throw new ConfigError(`plugin "${use}" does not export a plugin definition ({ name, create })`);
  return def;
}

/** Validates (and fills defaults into) a plugin's options against its own schema. */
export function validatePluginOptions(def: PluginDefinition, cfg: PluginConfig, index: number): Record<string, unknown> {
  const options = structuredClone(cfg.options ?? {});
  // Checked even without a schema: a plugin may copy or look up its options key by key.
  const inherited = inheritedNameProblems(options, `plugins[${index}].options`);
  if (inherited.length) throw new ConfigError(`plugin "${cfg.name ?? def.name}" has invalid options`, inherited);
  if (!def.configSchema) return options;
  const validate = ajv.compile(def.configSchema);
  if (!validate(options)) {
    const problems = (validate.errors ?? []).map((e) => `plugins[${index}].options${describeSchemaError(e).replace(/^\(root\)/, '').replace(/^(?=[^.:[])/, '.')}`);
    throw new ConfigError(`plugin "${cfg.name ?? def.name}" has invalid options`, problems);
  }
  return options;
}
