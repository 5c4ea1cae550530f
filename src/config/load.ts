import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { embeddedDefaults } from './defaults';
import { gatewayConfigSchema } from './schema';
import { mtlsProblems, withIdentityOptions } from '../identity/config';
import { rateLimitProblems } from '../ratelimit/config';
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
const validateConfig = ajv.compile(gatewayConfigSchema);

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

export interface LoadOptions {
  /** Explicit path; when absent, ./gateway.yaml is used if present, else the embedded defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function parseConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('configuration must be a YAML mapping at the top level');
  }
  const doc = expandEnv(structuredClone(raw), env) as Record<string, unknown>;
  if (!validateConfig(doc)) {
    throw new ConfigError('invalid gateway configuration', (validateConfig.errors ?? []).map(describeSchemaError));
  }
  const config = doc as unknown as GatewayConfig;
  config.base_dir = baseDir;
  checkSemantics(config);
  config.plugins = withIdentityOptions(config.plugins, config.mtls);
  return config;
}

function checkSemantics(config: GatewayConfig): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  config.providers.forEach((p, i) => {
    if (seen.has(p.name)) problems.push(`providers[${i}].name: duplicate provider "${p.name}"`);
    seen.add(p.name);
    if (p.api_key && p.api_key_env) problems.push(`providers[${i}]: set api_key or api_key_env, not both`);
  });
  const ports = new Map<number, string>();
  const claim = (port: number, key: string) => {
    if (port === 0) return;
    const other = ports.get(port);
    if (other) problems.push(`${key}: port ${port} is already used by ${other}`);
    ports.set(port, key);
  };
  if (config.server.http_enabled) claim(config.server.http_port, 'server.http_port');
  if (config.mtls.enabled) claim(config.mtls.port, 'mtls.port');
  problems.push(...mtlsProblems(config.mtls, config.base_dir));
  problems.push(...rateLimitProblems(config.rate_limits));
  claim(config.envoy.admin_port, 'envoy.admin_port');
  claim(config.processor.grpc_port, 'processor.grpc_port');
  claim(config.processor.admin_port, 'processor.admin_port');
  if (config.demo.echo.enabled) claim(config.demo.echo.port, 'demo.echo.port');
  if (problems.length) throw new ConfigError('invalid gateway configuration', problems);
}

export function loadConfig(opts: LoadOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.path ?? env.GATEWAY_CONFIG;
  const file = path.resolve(cwd, explicit ?? 'gateway.yaml');
  if (!fs.existsSync(file)) {
    if (explicit) throw new ConfigError(`configuration file not found: ${file}`);
    return parseConfig(structuredClone(embeddedDefaults), cwd, env);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return parseConfig(raw, path.dirname(file), env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message.split(':\n')[0]}`, err.problems);
    throw err;
  }
}

/** Resolves a provider's API key from the environment or its literal, without ever logging it. */
export function resolveSecret(literal: string | undefined, envName: string | undefined, env = process.env): string | undefined {
  if (envName) return env[envName] || undefined;
  if (literal?.startsWith('env:')) return env[literal.slice(4)] || undefined;
  return literal || undefined;
}
