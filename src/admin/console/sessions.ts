import crypto from 'node:crypto';
import { decodeJwt } from 'jose';

/**
 * Console sessions: after sign-in, the browser holds only a random session id in an HttpOnly
 * cookie; the admin credential it was opened with stays here, in this process's memory. Every
 * admin API call carrying the cookie re-runs the admin authenticator on that credential
 * (src/admin/auth.ts), so a revoked key or an expired JWT ends the session at once.
 *
 * Held in memory of the one process that serves the admin API (processor workers do not): a
 * restart signs everyone out, and replicas behind a load balancer each know their own sessions.
 */

export const SESSION_COOKIE = 'gw_console';
/** Sent by the console's own scripts with every cookie-authenticated call; a cross-site form cannot send it (CSRF). */
export const CONSOLE_HEADER = 'x-gateway-console';
/** A session ends this long after sign-in, whatever its use. */
export const SESSION_LIFETIME_MS = 8 * 3600_000;
/** ...or after this long unused. */
export const SESSION_IDLE_MS = 60 * 60_000;
/** Sessions kept at most; the oldest is dropped past it (sign-ins are audited and rate limited by Envoy). */
const MAX_SESSIONS = 10_000;
const ID_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

interface Session {
  credential: string;
  /** Absolute end: sign-in + lifetime, or the JWT's `exp` when sooner. */
  expiresAt: number;
  lastUsed: number;
}

/** A session found for a request: its credential, and how to end it (a refused credential). */
export interface SessionRef {
  credential: string;
  expiresAt: number;
  end(): void;
}

const hash = (id: string) => crypto.createHash('sha256').update(id).digest('hex');

/** The `exp` of a JWT credential in ms, or undefined (an API key, or a token without one). */
function jwtExpiry(credential: string): number | undefined {
  try {
    const exp = decodeJwt(credential).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The value of one cookie in a Cookie header (several headers joined with `; ` by Envoy). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const all = Array.isArray(header) ? header.join('; ') : header ?? '';
  for (const part of all.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class ConsoleSessions {
  /** By the SHA-256 of the session id: the id itself is never kept. */
  private readonly byHash = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits = { lifetimeMs: SESSION_LIFETIME_MS, idleMs: SESSION_IDLE_MS },
  ) {}

  /** Opens a session for an accepted credential: its new id (for the cookie) and when it ends. */
  open(credential: string): { id: string; expiresAt: number } {
    this.sweep();
    while (this.byHash.size >= MAX_SESSIONS) this.byHash.delete(this.byHash.keys().next().value!);
    const id = crypto.randomBytes(ID_BYTES).toString('base64url');
    const now = this.now();
    const expiresAt = Math.min(now + this.limits.lifetimeMs, jwtExpiry(credential) ?? Infinity);
    this.byHash.set(hash(id), { credential, expiresAt, lastUsed: now });
    return { id, expiresAt };
  }

  /** The live session of this id, or undefined (unknown, malformed, expired or idle too long). */
  find(id: string): SessionRef | undefined {
    if (!ID_PATTERN.test(id)) return undefined;
    const key = hash(id);
    const s = this.byHash.get(key);
    if (!s) return undefined;
    const now = this.now();
    if (now >= s.expiresAt || now - s.lastUsed >= this.limits.idleMs) {
      this.byHash.delete(key);
      return undefined;
    }
    s.lastUsed = now;
    return { credential: s.credential, expiresAt: s.expiresAt, end: () => this.byHash.delete(key) };
  }

  /** Ends the session of this id (sign-out); true when there was one. */
  close(id: string): boolean {
    return ID_PATTERN.test(id) && this.byHash.delete(hash(id));
  }

  get size(): number {
    return this.byHash.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, s] of this.byHash) if (now >= s.expiresAt || now - s.lastUsed >= this.limits.idleMs) this.byHash.delete(key);
  }
}

/**
 * The session a request presents: its cookie, honoured only with the console header (a
 * cross-site request may carry the cookie, never the header). `unknown` for a cookie that names
 * no live session; undefined when the request presents none.
 */
export function sessionOf(sessions: ConsoleSessions, headers: Record<string, string | string[] | undefined>): SessionRef | 'unknown' | undefined {
  const marker = headers[CONSOLE_HEADER];
  if ((Array.isArray(marker) ? marker[0] : marker) !== '1') return undefined;
  const id = cookieValue(headers.cookie, SESSION_COOKIE);
  if (id === undefined || id === '') return undefined;
  return sessions.find(id) ?? 'unknown';
}
