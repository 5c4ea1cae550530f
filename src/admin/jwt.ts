/**
 * JWT bearer tokens for the admin API, verified with `jose` (v5: the last major release that
 * ships CommonJS, which this CommonJS build and Jest's module loader need; v6 is ESM-only).
 *
 * Only the algorithms the configured keys allow are accepted: HS256 with `hs256_secret`, RS256
 * with `rs256_public_key` (PEM) or `jwks_file`. So `alg: none`, HS256 signed with the RSA
 * public key as secret (algorithm confusion) and any other algorithm are refused. Tokens must
 * carry `sub` and `exp`; `nbf`, `iss` and `aud` are checked with `leeway_seconds` of clock skew.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, errors, importSPKI, importX509, jwtVerify, type JWTPayload, type KeyLike } from 'jose';
import { ConfigError } from '../config/load';
import type { GatewayConfig } from '../config/types';
import type { JwtAuthConfig } from './jwt-config';

export type { AdminAuthConfig, JwtAuthConfig } from './jwt-config';

/** Why a token was refused; goes to metrics and the audit log, never to the client. */
export type JwtFailure =
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid';

export type JwtResult = { ok: true; subject: string; roles: string[]; team: string | null } | { ok: false; reason: JwtFailure };

/** Compact JWS shape: three base64url parts, the header starting `{"` (`eyJ`). Signature may be empty (alg none). */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);
}

/** Longest token looked at: anything bigger is refused before any parsing. */
const MAX_TOKEN_CHARS = 16 * 1024;
const JWKS_RECHECK_MS = 5000;

export class JwtConfigError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(`admin_auth.jwt.${param}: ${message}`);
    this.name = 'JwtConfigError';
  }
}

type Jwks = ReturnType<typeof createLocalJWKSet>;

export class JwtVerifier {
  private jwks: Jwks | undefined;
  private jwksMtime = 0;
  private jwksCheckedAt = 0;
  private readonly algorithms: string[];

  private constructor(
    private readonly cfg: JwtAuthConfig,
    private readonly secret: Uint8Array | undefined,
    private readonly rsaKey: KeyLike | undefined,
    private readonly jwksFile: string | undefined,
  ) {
    this.algorithms = [...(secret ? ['HS256'] : []), ...(rsaKey || jwksFile ? ['RS256'] : [])];
    if (jwksFile) this.loadJwks();
  }

  /** Reads the configured keys; a missing or unusable key is a JwtConfigError naming the setting. */
  static async create(cfg: JwtAuthConfig, baseDir: string, env: NodeJS.ProcessEnv = process.env): Promise<JwtVerifier> {
    let secret: Uint8Array | undefined;
    if (cfg.hs256_secret !== undefined) {
      const value = cfg.hs256_secret.startsWith('env:') ? env[cfg.hs256_secret.slice(4)] : cfg.hs256_secret;
      if (!value) throw new JwtConfigError('hs256_secret', `environment variable ${cfg.hs256_secret.slice(4)} is not set`);
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits).
      if (Buffer.byteLength(value) < 32) throw new JwtConfigError('hs256_secret', 'must be at least 32 bytes');
      secret = new TextEncoder().encode(value);
    }
    let rsaKey: KeyLike | undefined;
    if (cfg.rs256_public_key !== undefined) {
      const file = path.resolve(baseDir, cfg.rs256_public_key);
      let pem: string;
      try {
        pem = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new JwtConfigError('rs256_public_key', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      try {
        rsaKey = pem.includes('BEGIN CERTIFICATE') ? await importX509(pem, 'RS256') : await importSPKI(pem, 'RS256');
      } catch {
        throw new JwtConfigError('rs256_public_key', `${file} is not a PEM RSA public key or certificate`);
      }
    }
    const jwksFile = cfg.jwks_file === undefined ? undefined : path.resolve(baseDir, cfg.jwks_file);
    try {
      return new JwtVerifier(cfg, secret, rsaKey, jwksFile);
    } catch (err) {
      throw new JwtConfigError('jwks_file', (err as Error).message);
    }
  }

  /** (Re-)reads the JWKS file; throws when it is unreadable or not a key set. */
  private loadJwks(): void {
    const file = this.jwksFile!;
    const stat = fs.statSync(file);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: unknown };
    if (!doc || !Array.isArray(doc.keys)) throw new Error(`${file} is not a JWKS document ({"keys": [...]})`);
    this.jwks = createLocalJWKSet(doc as Parameters<typeof createLocalJWKSet>[0]);
    this.jwksMtime = stat.mtimeMs;
    this.jwksCheckedAt = Date.now();
  }

  /** Picks up a rotated JWKS file, at most every few seconds; a broken file keeps the old keys. */
  private async refreshJwks(): Promise<void> {
    if (!this.jwksFile || Date.now() - this.jwksCheckedAt < JWKS_RECHECK_MS) return;
    this.jwksCheckedAt = Date.now();
    try {
      const stat = await fs.promises.stat(this.jwksFile);
      if (stat.mtimeMs !== this.jwksMtime) this.loadJwks();
    } catch {
      // Keep the keys already loaded: a file being rewritten must not lock admins out.
    }
  }

  async verify(token: string): Promise<JwtResult> {
    if (token.length > MAX_TOKEN_CHARS || !looksLikeJwt(token)) return { ok: false, reason: 'malformed' };
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    // Checked here as well as by jose (`algorithms`), so no key is ever looked up for another algorithm.
    if (typeof alg !== 'string' || !this.algorithms.includes(alg)) return { ok: false, reason: 'algorithm_not_allowed' };
    await this.refreshJwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, jws) => this.keyFor(header.alg, header.kid, header, jws), {
        algorithms: this.algorithms,
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        clockTolerance: this.cfg.leeway_seconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      return { ok: false, reason: failure(err) };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { ok: false, reason: 'missing_claim' };
    const team = claimAt(payload, this.cfg.team_claim);
    return { ok: true, subject: payload.sub, roles: rolesFrom(claimAt(payload, this.cfg.roles_claim)), team: typeof team === 'string' && team ? team : null };
  }

  private keyFor(alg: string | undefined, kid: string | undefined, header: Parameters<Jwks>[0], jws: Parameters<Jwks>[1]): KeyLike | Uint8Array | Promise<KeyLike> {
    if (alg === 'HS256' && this.secret) return this.secret;
    if (alg === 'RS256') {
      // A `kid` names a JWKS key; without one the PEM key is used when there is one.
      if (this.jwks && (kid !== undefined || !this.rsaKey)) return this.jwks(header, jws);
      if (this.rsaKey) return this.rsaKey;
    }
    throw new errors.JOSEAlgNotAllowed('algorithm not allowed');
  }
}

/** The verifier `admin_auth.jwt` asks for, or undefined; a key that cannot be used is a ConfigError. */
export async function adminJwtVerifier(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): Promise<JwtVerifier | undefined> {
  if (!config.admin_auth.jwt) return undefined;
  try {
    return await JwtVerifier.create(config.admin_auth.jwt, config.base_dir, env);
  } catch (err) {
    throw err instanceof JwtConfigError ? new ConfigError('invalid gateway configuration', [err.message]) : err;
  }
}

function failure(err: unknown): JwtFailure {
  const e = err as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf' || e.claim === 'iat') return 'not_yet_valid';
      if (e.claim === 'iss') return 'wrong_issuer';
      if (e.claim === 'aud') return 'wrong_audience';
      return 'missing_claim';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm_not_allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'malformed';
    default:
      return 'invalid';
  }
}

/** The value at a dot path (`realm_access.roles`) of the claims, or undefined. */
export function claimAt(payload: JWTPayload, dotPath: string): unknown {
  let v: unknown = payload;
  for (const part of dotPath.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Roles from an array of strings or a space/comma separated string; anything else is none. */
function rolesFrom(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((r): r is string => typeof r === 'string' && r !== '');
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [];
}
