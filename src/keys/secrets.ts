import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KeyTier } from '../store/types';

/**
 * Key material helpers. Virtual keys are random tokens stored only as SHA-256 digests (they
 * have 190+ bits of entropy, so a plain digest is enough); provider credentials must be
 * recovered to be injected, so they are encrypted with AES-256-GCM under the gateway's
 * encryption key.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const TIER_PREFIX: Record<KeyTier, string> = { standard: 'sk-gw-', langchain: 'langchain-' };

/** A new secret key: tier prefix plus 32 base62 characters from the CSPRNG. */
export function generateSecret(tier: KeyTier): string {
  const bytes = randomBytes(48);
  let out = '';
  for (const b of bytes) {
    if (b >= 248) continue; // 248 = 62 * 4: keeps the draw unbiased
    out += ALPHABET[b % 62];
    if (out.length === 32) break;
  }
  return out.length === 32 ? TIER_PREFIX[tier] + out : generateSecret(tier);
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** What a person sees of a key: its prefix and a few characters, never enough to use it. */
export function displayPrefix(secret: string): string {
  const tierPrefix = Object.values(TIER_PREFIX).find((p) => secret.startsWith(p)) ?? '';
  return secret.slice(0, tierPrefix.length + 4) + '…';
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export const tierOfSecret = (secret: string): KeyTier => (secret.startsWith(TIER_PREFIX.langchain) ? 'langchain' : 'standard');

/**
 * The 32-byte key that encrypts stored provider credentials: GATEWAY_ENCRYPTION_KEY (base64 or
 * hex of 32 bytes, or any passphrase, which is hashed), else a file created in the data folder
 * on first start. Replicas sharing PostgreSQL must share GATEWAY_ENCRYPTION_KEY.
 */
export function loadEncryptionKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.GATEWAY_ENCRYPTION_KEY;
  if (fromEnv) {
    if (/^[0-9a-f]{64}$/i.test(fromEnv)) return Buffer.from(fromEnv, 'hex');
    const b64 = Buffer.from(fromEnv, 'base64');
    if (b64.length === 32 && /^[A-Za-z0-9+/=]+$/.test(fromEnv)) return b64;
    return createHash('sha256').update(fromEnv).digest();
  }
  const file = path.join(dataDir, 'encryption.key');
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  } catch {
    fs.mkdirSync(dataDir, { recursive: true });
    const key = randomBytes(32);
    fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  }
}

export class SecretBox {
  constructor(private readonly key: Buffer) {}

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `enc:v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    const raw = Buffer.from(sealed.slice('enc:v1:'.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  /** Stored form of a provider credential: env references stay references, literals are sealed. */
  store(credential: string): string {
    return credential.startsWith('env:') ? credential : this.seal(credential);
  }

  /** The usable credential from its stored form, or undefined if it cannot be had. */
  resolve(stored: string | null, env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (!stored) return undefined;
    if (stored.startsWith('env:')) return env[stored.slice(4)] || undefined;
    if (stored.startsWith('enc:v1:')) {
      try {
        return this.open(stored);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}
