import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Closed, Default, StringEnum, type Defaulted } from '../config/schema-kit';
/**
 * The `mtls` section of gateway.yaml: Envoy's second listener, which requires client
 * certificates, and the identities it maps to gateway principals. Kept out of config/schema.ts
 * so the mTLS feature lives in one place; schema.ts and types.ts only reference it. The
 * types are derived from the schemas (Defaulted: properties with a default are present).
 */

/** One identity rule: which certificate identities it covers and the principal they become. */
export const identityRuleSchema = Closed({
  /** An exact identity, or a prefix ending in `*` (`spiffe://example.org/agent/*`). */
  match: Type.String({ minLength: 1 }),
  /** Principal id (usage records' key id); defaults to the identity itself. */
  id: Type.Optional(Type.String({ minLength: 1 })),
  user: Type.Optional(Type.String()),
  team: Type.Optional(Type.String()),
  tier: Default(StringEnum(['standard', 'langchain']), 'standard'),
  allowed_models: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  allowed_providers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /** Requests per quota window, as a virtual key's quota_limit. */
  quota_limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const mtlsSchema = Default(
  Closed({
    enabled: Default(Type.Boolean(), false),
    listen_address: Default(Type.String(), '0.0.0.0'),
    port: Default(Type.Integer({ minimum: 0, maximum: 65535 }), 8443),
    /** PEM files, relative to the configuration file's directory. */
    server_cert: Type.Optional(Type.String({ minLength: 1 })),
    server_key: Type.Optional(Type.String({ minLength: 1 })),
    /** CA bundle client certificates must chain to. */
    client_ca: Type.Optional(Type.String({ minLength: 1 })),
    identities: Default(Type.Array(identityRuleSchema), []),
  }),
  {},
);

export type IdentityRule = Defaulted<typeof identityRuleSchema>;
export type MtlsConfig = Defaulted<typeof mtlsSchema>;

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
