import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload, type KeyLike } from 'jose';
import { adminJwtVerifier, JwtConfigError, JwtVerifier, looksLikeJwt, type JwtResult } from '../../src/admin/jwt';
import { parseConfig } from '../../src/config/load';
import type { JwtAuthConfig } from '../../src/admin/jwt-config';

/** Table-driven checks of JWT verification for the admin API (src/admin/jwt.ts). */

const SECRET = 'an-hs256-secret-that-is-32-bytes-or-more!';
const OTHER_SECRET = 'another-hs256-secret-also-32-bytes-long!!';
const ISSUER = 'https://idp.example';
const AUDIENCE = 'llm-gateway-admin';
const now = () => Math.floor(Date.now() / 1000);

let dir: string;
let rsa: { publicKey: KeyLike; privateKey: KeyLike };
let otherRsa: { publicKey: KeyLike; privateKey: KeyLike };
let publicPem: string;
/** HS256 + RS256 (JWKS with kid `k1`, and the PEM for tokens without a kid). */
let verifier: JwtVerifier;
/** RS256 only, from the JWKS file. */
let rsOnly: JwtVerifier;

const base = (over: Partial<JwtAuthConfig> = {}): JwtAuthConfig => ({
  issuer: ISSUER,
  audience: AUDIENCE,
  roles_claim: 'roles',
  team_claim: 'team',
  leeway_seconds: 30,
  ...over,
});

const claims = (over: JWTPayload = {}): JWTPayload => ({
  sub: 'alice@example.com',
  roles: ['admin'],
  team: 'platform',
  iss: ISSUER,
  aud: AUDIENCE,
  iat: now(),
  exp: now() + 300,
  ...over,
});

/** Signs claims as given: no defaults added by jose beyond the header. */
async function sign(payload: JWTPayload, alg: string, key: KeyLike | Uint8Array, kid?: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) }).sign(key);
}
const hs = (over: JWTPayload = {}, secret = SECRET) => sign(claims(over), 'HS256', new TextEncoder().encode(secret));
/** kid null: no kid in the header (the PEM key verifies it). */
const rs = (over: JWTPayload = {}, key = rsa.privateKey, kid: string | null = 'k1') => sign(claims(over), 'RS256', key, kid ?? undefined);
const without = (name: string) => {
  const c = claims();
  delete c[name];
  return c;
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-jwt-'));
  rsa = await generateKeyPair('RS256', { extractable: true });
  otherRsa = await generateKeyPair('RS256', { extractable: true });
  publicPem = await exportSPKI(rsa.publicKey);
  fs.writeFileSync(path.join(dir, 'admin.pub.pem'), publicPem);
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  verifier = await JwtVerifier.create(base({ hs256_secret: 'env:ADMIN_JWT_SECRET', jwks_file: 'jwks.json', rs256_public_key: 'admin.pub.pem' }), dir, {
    ADMIN_JWT_SECRET: SECRET,
  });
  rsOnly = await JwtVerifier.create(base({ jwks_file: path.join(dir, 'jwks.json') }), '/elsewhere');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Case = [name: string, token: () => Promise<string> | string, expected: JwtResult, on?: () => JwtVerifier];

const OK: JwtResult = { ok: true, subject: 'alice@example.com', roles: ['admin'], team: 'platform' };
const refused = (reason: string): JwtResult => ({ ok: false, reason } as JwtResult);

const cases: Case[] = [
  ['valid HS256', () => hs(), OK],
  ['valid RS256 through the JWKS (kid k1)', () => rs(), OK],
  ['valid RS256 through the PEM key (no kid)', () => rs({}, rsa.privateKey, null), OK],
  ['valid RS256 on a JWKS-only verifier', () => rs(), OK, () => rsOnly],
  ['expired less than leeway_seconds ago: still valid', () => hs({ exp: now() - 10 }), OK],
  ['roles as a space-separated string', () => hs({ roles: 'viewer admin' }), { ...OK, roles: ['viewer', 'admin'] }],
  ['no team claim', () => hs({ team: undefined }), { ...OK, team: null }],
  ['roles claim missing: valid, but no roles', () => hs({ roles: undefined }), { ...OK, roles: [] }],
  ['roles of the wrong type: no roles', () => hs({ roles: { admin: true } }), { ...OK, roles: [] }],
  ['alg none', () => new UnsecuredJWT(claims()).encode(), refused('algorithm_not_allowed')],
  ['alg none with a signature part', async () => `${new UnsecuredJWT(claims()).encode()}c2ln`, refused('algorithm_not_allowed')],
  ['HS256 signed with another secret', () => hs({}, OTHER_SECRET), refused('bad_signature')],
  ['RS256 signed with another private key under kid k1', () => rs({}, otherRsa.privateKey), refused('bad_signature')],
  ['RS256 signed with another private key, no kid (PEM)', () => rs({}, otherRsa.privateKey, null), refused('bad_signature')],
  ['RS256 with an unknown kid', () => rs({}, rsa.privateKey, 'k9'), refused('unknown_key')],
  // Algorithm confusion: the RSA public key (which attackers know) used as an HMAC secret.
  ['HS256 keyed with the RSA public key, HS256 not configured', () => sign(claims(), 'HS256', new TextEncoder().encode(publicPem)), refused('algorithm_not_allowed'), () => rsOnly],
  ['HS256 keyed with the RSA public key, HS256 configured', () => sign(claims(), 'HS256', new TextEncoder().encode(publicPem)), refused('bad_signature')],
  ['RS512 (not configured)', () => sign(claims(), 'RS512', rsa.privateKey, 'k1'), refused('algorithm_not_allowed')],
  ['expired beyond the leeway', () => hs({ exp: now() - 120 }), refused('expired')],
  ['not yet valid (nbf)', () => hs({ nbf: now() + 600 }), refused('not_yet_valid')],
  ['wrong audience', () => hs({ aud: 'someone-else' }), refused('wrong_audience')],
  ['wrong issuer', () => hs({ iss: 'https://evil.example' }), refused('wrong_issuer')],
  ['no exp', () => sign(without('exp'), 'HS256', new TextEncoder().encode(SECRET)), refused('missing_claim')],
  ['no sub', () => sign(without('sub'), 'HS256', new TextEncoder().encode(SECRET)), refused('missing_claim')],
  ['payload tampered after signing', async () => {
    const [h, , s] = (await hs()).split('.');
    return `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'mallory' }))).toString('base64url')}.${s}`;
  }, refused('bad_signature')],
  ['not a JWT', () => 'eyJhbGciOiJIUzI1NiJ9.not-json!.x', refused('malformed')],
  ['garbage header', () => 'eyJub3QganNvbg.eyJ9.c2ln', refused('malformed')],
  ['far too long', () => `eyJhbGciOiJIUzI1NiJ9.${'a'.repeat(20000)}.c2ln`, refused('malformed')],
];

test.each(cases.map(([name, token, expected, on]) => ({ name, token, expected, on })))('$name', async ({ token, expected, on }) => {
  expect(await (on?.() ?? verifier).verify(await token())).toEqual(expected);
});

test('nested roles and team claims by dot path', async () => {
  const v = await JwtVerifier.create(base({ hs256_secret: SECRET, roles_claim: 'realm_access.roles', team_claim: 'org.team' }), dir);
  const token = await hs({ roles: undefined, team: undefined, realm_access: { roles: ['admin', 'ops'] }, org: { team: 'blue' } });
  expect(await v.verify(token)).toEqual({ ok: true, subject: 'alice@example.com', roles: ['admin', 'ops'], team: 'blue' });
});

test('issuer and audience are optional', async () => {
  const v = await JwtVerifier.create({ hs256_secret: SECRET, roles_claim: 'roles', team_claim: 'team', leeway_seconds: 0 }, dir);
  expect(await v.verify(await hs({ iss: undefined, aud: undefined }))).toEqual(OK);
  expect(await v.verify(await hs({ exp: now() - 5 }))).toEqual(refused('expired'));
});

test('looksLikeJwt tells tokens from API keys', () => {
  expect(looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBe(true);
  for (const key of ['sk-gateway-demo', 'vk_user1_openai', 'eyJ-no-dots', 'a.b.c', 'eyJ.a.b.c']) expect(looksLikeJwt(key)).toBe(false);
});

describe('configuration problems name the setting', () => {
  test.each([
    ['a short secret', base({ hs256_secret: 'too-short' }), 'hs256_secret', /32 bytes/],
    ['an unset env secret', base({ hs256_secret: 'env:NOT_SET_ANYWHERE' }), 'hs256_secret', /NOT_SET_ANYWHERE is not set/],
    ['a missing PEM file', base({ rs256_public_key: 'missing.pem' }), 'rs256_public_key', /cannot read/],
    ['a PEM file that is no key', base({ rs256_public_key: 'jwks.json' }), 'rs256_public_key', /not a PEM/],
    ['a missing JWKS file', base({ jwks_file: 'missing.json' }), 'jwks_file', /ENOENT/],
    ['a JWKS file that is no key set', base({ jwks_file: 'admin.pub.pem' }), 'jwks_file', /JSON|JWKS/],
  ])('%s', async (_name, cfg, param, message) => {
    const err = await JwtVerifier.create(cfg, dir, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JwtConfigError);
    expect((err as JwtConfigError).param).toBe(param);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(SECRET);
  });
});

describe('admin_auth in gateway.yaml', () => {
  test('defaults: roles from `roles`, team from `team`, 30 s of leeway; no section, no JWT', () => {
    const config = parseConfig({ admin_auth: { jwt: { hs256_secret: 'env:ADMIN_JWT_SECRET' } } }, '/tmp');
    expect(config.admin_auth.jwt).toEqual({ hs256_secret: 'env:ADMIN_JWT_SECRET', roles_claim: 'roles', team_claim: 'team', leeway_seconds: 30 });
    expect(parseConfig({}, '/tmp').admin_auth).toEqual({ console: { session_ttl_seconds: 28_800, idle_timeout_seconds: 3600 } });
  });

  test.each([
    [{ jwt: {} }, /admin_auth\.jwt/],
    [{ jwt: { hs256_secret: 'x'.repeat(40), algorithm: 'HS512' } }, /admin_auth\.jwt\.algorithm: unknown key/],
    [{ jwt: { jwks_file: 'k.json', roles_claim: 'a..b' } }, /admin_auth\.jwt\.roles_claim/],
    [{ jwt: { jwks_file: 'k.json', leeway_seconds: -1 } }, /admin_auth\.jwt\.leeway_seconds/],
  ])('%j is refused naming the key', (adminAuth, message) => {
    expect(() => parseConfig({ admin_auth: adminAuth }, '/tmp')).toThrow(message);
  });

  test('a key the gateway cannot use stops the start with a ConfigError naming it', async () => {
    const config = parseConfig({ admin_auth: { jwt: { rs256_public_key: 'nowhere.pem' } } }, dir);
    await expect(adminJwtVerifier(config)).rejects.toThrow(/admin_auth\.jwt\.rs256_public_key: cannot read/);
    expect(await adminJwtVerifier(parseConfig({}, dir))).toBeUndefined();
  });
});
