import crypto from 'node:crypto';

/** Forged and malformed JWTs: none of them may authenticate anyone. */

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'mallory', iss: 'https://evil.example', roles: ['admin'], role: 'admin', exp: now() + 3600, iat: now(), ...extra });

function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function signed(header: Record<string, unknown>, payload: Record<string, unknown>, key: crypto.KeyObject, alg: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${sig.toString('base64url')}`;
}

export function forgedJwts(): [string, string][] {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const jwk = rsa.publicKey.export({ format: 'jwk' });
  const payload = claims();
  return [
    ['alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`],
    ['alg None', `${b64({ alg: 'None', typ: 'JWT' })}.${b64(payload)}.`],
    ['alg NONE', `${b64({ alg: 'NONE' })}.${b64(payload)}.`],
    ['alg nOnE with a signature', `${b64({ alg: 'nOnE' })}.${b64(payload)}.${b64('sig')}`],
    ['alg none without the trailing dot', `${b64({ alg: 'none' })}.${b64(payload)}`],
    ['HS256 signed with "secret"', hs256({ alg: 'HS256', typ: 'JWT' }, payload, 'secret')],
    ['HS256 signed with an empty key', hs256({ alg: 'HS256', typ: 'JWT' }, payload, '')],
    ['HS256 signed with an RSA public key (alg confusion)', hs256({ alg: 'HS256', typ: 'JWT' }, payload, publicPem)],
    ['RS256 signed with an unknown key', signed({ alg: 'RS256', typ: 'JWT' }, payload, rsa.privateKey, 'RS256')],
    ['RS256 header with an HS256 signature', hs256({ alg: 'RS256', typ: 'JWT' }, payload, 'secret')],
    ['ES256 signed with an unknown key', signed({ alg: 'ES256', typ: 'JWT' }, payload, ec.privateKey, 'ES256')],
    ['expired', hs256({ alg: 'HS256' }, claims({ exp: 946684800 }), 'secret')],
    ['not yet valid', hs256({ alg: 'HS256' }, claims({ nbf: now() + 86400 }), 'secret')],
    ['kid path traversal', hs256({ alg: 'HS256', kid: '../../../../../../dev/null' }, payload, '')],
    ['kid SQL injection', hs256({ alg: 'HS256', kid: "x' UNION SELECT 'secret' --" }, payload, 'secret')],
    ['jku pointing elsewhere', signed({ alg: 'RS256', jku: 'http://127.0.0.1:1/jwks.json', kid: 'k' }, payload, rsa.privateKey, 'RS256')],
    ['embedded jwk', signed({ alg: 'RS256', jwk }, payload, rsa.privateKey, 'RS256')],
    ['x5u pointing elsewhere', signed({ alg: 'RS256', x5u: 'http://127.0.0.1:1/cert.pem' }, payload, rsa.privateKey, 'RS256')],
    ['unknown crit header', hs256({ alg: 'HS256', crit: ['exp', 'x-evil'], 'x-evil': true }, payload, 'secret')],
    ['two segments', `${b64({ alg: 'HS256' })}.${b64(payload)}`],
    ['four segments', `${hs256({ alg: 'HS256' }, payload, 'secret')}.extra`],
    ['empty segments', '..'],
    ['not base64', '!!!.@@@.###'],
    ['header is not JSON', `${b64('not json')}.${b64(payload)}.${b64('sig')}`],
    ['header is a JSON array', `${b64(['HS256'])}.${b64(payload)}.${b64('sig')}`],
    ['payload is not JSON', `${b64({ alg: 'HS256' })}.${b64('{"sub":')}.${b64('sig')}`],
    ['payload claims every role', hs256({ alg: 'HS256' }, claims({ roles: ['admin', 'completion', 'embedding'], scope: '*', admin: true }), 'secret')],
    ['token of 40 KB', hs256({ alg: 'HS256' }, claims({ pad: 'x'.repeat(30000) }), 'secret')],
  ];
}
