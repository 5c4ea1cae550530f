import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { embeddedDefaults } from './defaults';
import { applyEnvOverrides } from './env';
import { gatewayConfigSchema } from './schema';
import type { Defaulted } from './schema-kit';
import { mtlsProblems, withIdentityOptions } from '../identity/config';
import { rateLimitProblems } from '../ratelimit/config';
import { mcpProblems } from '../mcp/config';
import { consoleSessionProblems, idleTimeoutGiven } from '../admin/console/config';
import { baseUrlProblem } from '../providers/base-url';
import { listeningPorts } from './ports';
import { INHERITED_NAMES, inheritedNameProblems } from '../domain/own';
import type { GatewayConfig } from './types';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}:\n  - ${problems.join('\n  - ')}` : message);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
// Typed as the configuration after defaults: with useDefaults, a document Ajv accepts has them.
const validateConfig = ajv.compile<Defaulted<typeof gatewayConfigSchema>>(gatewayConfigSchema);

/** `a.b[2].c` from Ajv's JSON pointer, so errors name the key the way the YAML reads. */
function keyPath(pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

export function describeSchemaError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `${keyPath(e.instancePath, String(e.params.additionalProperty))}: unknown key`;
    case 'required':
      return `${keyPath(e.instancePath, String(e.params.missingProperty))}: is required`;
    case 'enum':
      return `${keyPath(e.instancePath)}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    default:
      return `${keyPath(e.instancePath)}: ${e.message ?? 'is invalid'}`;
  }
}

/** Expands `${NAME}` and `${NAME:-fallback}` in string values from the environment. */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      return v !== undefined && v !== '' ? v : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  }
  return value;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys of `keys.entries` are secrets: in problems, an entry is named by its position. */
function secretsHidden(doc: Record<string, unknown>): Record<string, unknown> {
  const keys = doc.keys;
  if (!isMap(keys) || !isMap(keys.entries)) return doc;
  const named = Object.entries(keys.entries).map(([secret, spec], i) => [INHERITED_NAMES.has(secret) ? secret : `(entry ${i + 1})`, spec]);
  return { ...doc, keys: { ...keys, entries: Object.fromEntries(named) } };
}

/** A variable that overrides the configuration (src/config/env.ts) has a value that cannot be used. */
class EnvironmentError extends ConfigError {}

export interface LoadOptions {
  /** Explicit path; when absent, ./gateway.yaml is used if present, else the embedded defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Validates a configuration document and fills its defaults, then applies the environment
 * variables that override it (src/config/env.ts): file values win over defaults, the
 * environment over both. `cwd` is what relative paths in those variables are relative to.
 */
export function parseConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): GatewayConfig {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('configuration must be a YAML mapping at the top level');
  }
  const doc = expandEnv(structuredClone(raw), env) as Record<string, unknown>;
  moveDeprecated(doc);
  // Anywhere in the file, and before the schema: its open maps (headers, prices, plugin
  // options, key metadata) would take any key.
  const inherited = inheritedNameProblems(secretsHidden(doc));
  if (inherited.length) throw new ConfigError('invalid gateway configuration', inherited);
  // Before the schema fills in defaults: only an idle timeout the file sets is held to the lifetime.
  const idleGiven = idleTimeoutGiven(doc);
  if (!validateConfig(doc)) {
    throw new ConfigError('invalid gateway configuration', (validateConfig.errors ?? []).map(describeSchemaError));
  }
  const config: GatewayConfig = Object.assign(doc, { base_dir: baseDir });
  const envProblems = applyEnvOverrides(config, env, cwd);
  if (envProblems.length) throw new EnvironmentError('invalid environment', envProblems);
  checkSemantics(config, idleGiven);
  config.plugins = withIdentityOptions(config.plugins, config.mtls);
  return config;
}

/**
 * Settings renamed since they shipped still load: `envoy.drain_seconds` (how long Envoy drained
 * at shutdown) became `server.shutdown_grace_seconds`, which the new key wins over.
 */
function moveDeprecated(doc: Record<string, unknown>): void {
  const envoy = doc.envoy;
  if (!isMap(envoy) || !Object.hasOwn(envoy, 'drain_seconds')) return;
  const { drain_seconds: seconds, ...rest } = envoy;
  doc.envoy = rest;
  const server = isMap(doc.server) ? doc.server : {};
  if (!Object.hasOwn(server, 'shutdown_grace_seconds')) doc.server = { ...server, shutdown_grace_seconds: seconds };
}

function checkSemantics(config: GatewayConfig, idleGiven: boolean): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  config.providers.forEach((p, i) => {
    if (seen.has(p.name)) problems.push(`providers[${i}].name: duplicate provider "${p.name}"`);
    seen.add(p.name);
    if (p.api_key && p.api_key_env) problems.push(`providers[${i}]: set api_key or api_key_env, not both`);
    const urlProblem = baseUrlProblem(p.base_url);
    if (urlProblem) problems.push(`providers[${i}].base_url: ${urlProblem}`);
  });
  const ports = new Map<number, string>();
  for (const { key, port } of listeningPorts(config)) {
    const other = ports.get(port);
    if (other) problems.push(`${key}: port ${port} is already used by ${other}`);
    ports.set(port, key);
  }
  problems.push(...mtlsProblems(config.mtls, config.base_dir));
  problems.push(...rateLimitProblems(config.rate_limits));
  problems.push(...mcpProblems(config.mcp));
  problems.push(...consoleSessionProblems(config.admin_auth.console, idleGiven));
  if (problems.length) throw new ConfigError('invalid gateway configuration', problems);
}

export function loadConfig(opts: LoadOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.path ?? env.GATEWAY_CONFIG;
  const file = path.resolve(cwd, explicit ?? 'gateway.yaml');
  if (!fs.existsSync(file)) {
    if (explicit) throw new ConfigError(`configuration file not found: ${file}`);
    return parseConfig(structuredClone(embeddedDefaults), cwd, env, cwd);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return parseConfig(raw, path.dirname(file), env, cwd);
  } catch (err) {
    if (err instanceof ConfigError && !(err instanceof EnvironmentError)) throw new ConfigError(`${file}: ${err.message.split(':\n')[0]}`, err.problems);
    throw err;
  }
}

/** Resolves a provider's API key from the environment or its literal, without ever logging it. */
export function resolveSecret(literal: string | undefined, envName: string | undefined, env = process.env): string | undefined {
  if (envName) return env[envName] || undefined;
  if (literal?.startsWith('env:')) return env[literal.slice(4)] || undefined;
  return literal || undefined;
}
