/**
 * gateway.yaml `admin_auth:`: JWT bearer tokens the admin API accepts besides admin keys. Kept
 * apart from the verifier (./jwt.ts) so loading the configuration does not load jose. The types
 * are derived from the schema (Defaulted: properties with a default are present).
 */

import { Type } from '@sinclair/typebox';
import { Closed, Default, type Defaulted } from '../config/schema-kit';
import { consoleSessionSchema } from './console/config';

/** A claim name; a dot path (`realm_access.roles`) reaches a nested claim. */
const claimPath = () => Type.String({ pattern: '^[^.]+(\\.[^.]+)*$' });

export const jwtAuthSchema = Closed(
  {
    /** HS256 shared secret, literal or `env:NAME` (at least 32 bytes). */
    hs256_secret: Type.Optional(Type.String({ minLength: 1 })),
    /** RS256 public key (PEM, SPKI or an X.509 certificate) file, relative to the config. */
    rs256_public_key: Type.Optional(Type.String({ minLength: 1 })),
    /** A JWKS JSON file of RS256 public keys, relative to the config; re-read when it changes. */
    jwks_file: Type.Optional(Type.String({ minLength: 1 })),
    issuer: Type.Optional(Type.String({ minLength: 1 })),
    audience: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    /** Claim holding the roles (array or space-separated string); a dot path reaches nested claims. */
    roles_claim: Default(claimPath(), 'roles'),
    /** Claim holding the caller's team (data isolation). */
    team_claim: Default(claimPath(), 'team'),
    leeway_seconds: Default(Type.Integer({ minimum: 0, maximum: 600 }), 30),
  },
  { anyOf: [{ required: ['hs256_secret'] }, { required: ['rs256_public_key'] }, { required: ['jwks_file'] }] },
);

/** gateway.yaml `admin_auth:` (src/config/schema.ts); `console`: session lifetimes (./console/config.ts). */
export const adminAuthSchema = Default(Closed({ jwt: Type.Optional(jwtAuthSchema), console: consoleSessionSchema }), {});

export type JwtAuthConfig = Defaulted<typeof jwtAuthSchema>;
export type AdminAuthConfig = Defaulted<typeof adminAuthSchema>;
