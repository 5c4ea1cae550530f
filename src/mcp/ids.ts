import crypto from 'node:crypto';

/** Ids the gateway mints (sessions, tool calls): random, never taken from a client. */
export function randomId(prefix = ''): string {
  return prefix + crypto.randomBytes(24).toString('base64url');
}
