import { SignJWT, type JWTPayload } from 'jose';

/** A JWT of `claims` signed with HS256 and `secret` (as admin_auth.jwt.hs256_secret verifies it); `expiresIn` e.g. '5m', else no expiry. */
export function hs256Jwt(claims: JWTPayload, secret: string, expiresIn?: string): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (expiresIn) jwt.setExpirationTime(expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}
