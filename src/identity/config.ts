import fs from 'node:fs';
import path from 'node:path';
/**
 * The `mtls` section of gateway.yaml: Envoy's second listener, which requires client
 * certificates, and the identities it maps to gateway principals. Kept out of config/schema.ts
 * so the mTLS feature lives in one place; schema.ts and types.ts only reference it.
 */

/** One identity rule: which certificate identities it covers and the principal they become. */
export const identityRuleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['match'],
  properties: {
    /** An exact identity, or a prefix ending in `*` (`spiffe://example.org/agent/*`). */
    match: { type: 'string', minLength: 1 },
    /** Principal id (usage records' key id); defaults to the identity itself. */
    id: { type: 'string', minLength: 1 },
    user: { type: 'string' },
    team: { type: 'string' },
    tier: { enum: ['standard', 'langchain'], default: 'standard' },
    allowed_models: { type: 'array', items: { type: 'string', minLength: 1 } },
    allowed_providers: { type: 'array', items: { type: 'string', minLength: 1 } },
    /** Requests per quota window, as a virtual key's quota_limit. */
    quota_limit: { type: 'integer', minimum: 0 },
  },
} as const;

export const mtlsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: false },
    listen_address: { type: 'string', default: '0.0.0.0' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8443 },
    /** PEM files, relative to the configuration file's directory. */
    server_cert: { type: 'string', minLength: 1 },
    server_key: { type: 'string', minLength: 1 },
    /** CA bundle client certificates must chain to. */
    client_ca: { type: 'string', minLength: 1 },
    identities: { type: 'array', items: identityRuleSchema, default: [] },
  },
} as const;

export interface IdentityRule {
  match: string;
  id?: string;
  user?: string;
  team?: string;
  tier: 'standard' | 'langchain';
  allowed_models?: string[];
  allowed_providers?: string[];
  quota_limit?: number;
}

export interface MtlsConfig {
  enabled: boolean;
  listen_address: string;
  port: number;
  server_cert?: string;
  server_key?: string;
  client_ca?: string;
  identities: IdentityRule[];
}

const MTLS_FILES = ['server_cert', 'server_key', 'client_ca'] as const;

/**
 * What the JSON schema cannot say: with the listener on, its three PEM files are required and
 * must exist (relative paths resolve against the configuration file's folder), so a typo is a
 * configuration error naming the key rather than an Envoy start-up failure.
 */
export function mtlsProblems(mtls: MtlsConfig, baseDir?: string): string[] {
  if (!mtls.enabled) return [];
  return MTLS_FILES.flatMap((k) => {
    const file = mtls[k];
    if (!file) return [`mtls.${k}: is required when mtls.enabled is true`];
    if (baseDir !== undefined && !fs.existsSync(path.resolve(baseDir, file))) return [`mtls.${k}: file not found: ${path.resolve(baseDir, file)}`];
    return [];
  });
}

/** The built-in plugin that turns a verified certificate identity into a principal. */
export const IDENTITY_PLUGIN = 'mtls-identity';

/**
 * Hands `mtls.identities` to the mtls-identity plugin as its `identities` option, so the
 * rules live next to the listener they belong to. A plugin entry with its own `identities`
 * option keeps it.
 */
export function withIdentityOptions<P extends { use: string; options: Record<string, unknown> }>(plugins: P[], mtls: MtlsConfig): P[] {
  return plugins.map((p) => (p.use === IDENTITY_PLUGIN && p.options.identities === undefined ? { ...p, options: { ...p.options, identities: structuredClone(mtls.identities) } } : p));
}

/** `match` is an exact identity, or a prefix when it ends in `*`. */
export function identityMatches(pattern: string, identity: string): boolean {
  return pattern.endsWith('*') ? identity.startsWith(pattern.slice(0, -1)) : identity === pattern;
}

/** The first rule, in configuration order, that covers the identity. */
export function findIdentityRule<R extends { match: string }>(rules: readonly R[], identity: string): R | undefined {
  return rules.find((r) => identityMatches(r.match, identity));
}
