/**
 * gateway.yaml `admin_auth:`: JWT bearer tokens the admin API accepts besides admin keys. Kept
 * apart from the verifier (./jwt.ts) so loading the configuration does not load jose.
 */

export interface JwtAuthConfig {
  /** HS256 shared secret, literal or `env:NAME` (at least 32 bytes). */
  hs256_secret?: string;
  /** RS256 public key (PEM, SPKI or an X.509 certificate) file, relative to the config. */
  rs256_public_key?: string;
  /** A JWKS JSON file of RS256 public keys, relative to the config; re-read when it changes. */
  jwks_file?: string;
  issuer?: string;
  audience?: string | string[];
  /** Claim holding the roles (array or space-separated string); a dot path reaches nested claims. */
  roles_claim: string;
  /** Claim holding the caller's team (data isolation). */
  team_claim: string;
  leeway_seconds: number;
}

export interface AdminAuthConfig {
  jwt?: JwtAuthConfig;
}

/** gateway.yaml `admin_auth:` (src/config/schema.ts). */
export const adminAuthSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    jwt: {
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['hs256_secret'] }, { required: ['rs256_public_key'] }, { required: ['jwks_file'] }],
      properties: {
        hs256_secret: { type: 'string', minLength: 1 },
        rs256_public_key: { type: 'string', minLength: 1 },
        jwks_file: { type: 'string', minLength: 1 },
        issuer: { type: 'string', minLength: 1 },
        audience: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] },
        roles_claim: { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$', default: 'roles' },
        team_claim: { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$', default: 'team' },
        leeway_seconds: { type: 'integer', minimum: 0, maximum: 600, default: 30 },
      },
    },
  },
} as const;
