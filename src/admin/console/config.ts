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
