/**
 * gateway.yaml `admin_auth.console:`: how long a console session lasts (docs/console.md). Kept
 * apart from the sessions (./sessions.ts) so loading the configuration loads nothing else.
 */

import { Type } from '@sinclair/typebox';
import { Closed, Default, type Defaulted } from '../../config/schema-kit';

const HOUR = 3600;

export const consoleSessionSchema = Default(
  Closed({
    /** A session ends this long after sign-in, however it is used (a JWT's `exp` ends it sooner). */
    session_ttl_seconds: Default(Type.Integer({ minimum: 60, maximum: 7 * 24 * HOUR }), 8 * HOUR),
    /** ...or after this long unused; a value at or above session_ttl_seconds never applies. */
    idle_timeout_seconds: Default(Type.Integer({ minimum: 60, maximum: 24 * HOUR }), HOUR),
  }),
  {},
);

export type ConsoleSessionConfig = Defaulted<typeof consoleSessionSchema>;

/** The session limits in milliseconds, as ConsoleSessions takes them. */
export const sessionLimits = (c: ConsoleSessionConfig) => ({ lifetimeMs: c.session_ttl_seconds * 1000, idleMs: c.idle_timeout_seconds * 1000 });

/** Whether the file itself set `admin_auth.console.idle_timeout_seconds` (read before defaults fill it in). */
export function idleTimeoutGiven(doc: Record<string, unknown>): boolean {
  const auth = doc.admin_auth;
  const consoleDoc = auth !== null && typeof auth === 'object' ? (auth as Record<string, unknown>).console : undefined;
  return consoleDoc !== null && typeof consoleDoc === 'object' && Object.hasOwn(consoleDoc, 'idle_timeout_seconds');
}

/**
 * An idle timeout set longer than the lifetime could never apply: most likely the two were mixed
 * up, so it is refused. The default idle hour is not: it just never applies under a shorter lifetime.
 */
export function consoleSessionProblems(c: ConsoleSessionConfig, idleGiven: boolean): string[] {
  if (!idleGiven || c.idle_timeout_seconds <= c.session_ttl_seconds) return [];
  return [
    `admin_auth.console.idle_timeout_seconds (${c.idle_timeout_seconds}) is longer than admin_auth.console.session_ttl_seconds (${c.session_ttl_seconds}): an idle timeout must not exceed the session lifetime`,
  ];
}
