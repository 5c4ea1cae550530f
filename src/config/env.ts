import path from 'node:path';
import type { GatewayConfig } from './types';

/**
 * Environment variables that override gateway.yaml, under the names the earlier (Go) gateway
 * gave them, so scripts written for it keep working. One rule for every one of them: a value in
 * the configuration file wins over the default, and the environment wins over both. An empty
 * variable counts as unset. Relative paths in a variable are relative to the working directory
 * (where the command runs), as a shell user expects; in the file, to the file's folder.
 *
 * QUOTA_ENABLED and QUOTA_LIMIT follow the same rule but are read by the quota plugin itself
 * (plugins/quota), which owns those options.
 */

export interface EnvOverride {
  /** The environment variable. */
  variable: string;
  /** The configuration key it overrides, as gateway.yaml spells it. */
  key: string;
}

interface Spec<T> extends EnvOverride {
  /** The value, or throws EnvValueError saying what the variable must be. */
  parse(raw: string, cwd: string): T;
  apply(config: GatewayConfig, value: T): void;
}

class EnvValueError extends Error {}

const PORT = /^\d{1,5}$/;
const NUMBER = /^\d+(\.\d+)?$/;
const TRUE = /^(true|1|yes|on)$/i;
const FALSE = /^(false|0|no|off)$/i;

function port(raw: string): number {
  if (PORT.test(raw) && Number(raw) <= 65535) return Number(raw);
  throw new EnvValueError('must be a port number from 0 to 65535');
}
function seconds(raw: string): number {
  if (NUMBER.test(raw)) return Number(raw);
  throw new EnvValueError('must be a number of seconds (0 or more; 0 disables the timeout)');
}
function bool(raw: string): boolean {
  if (TRUE.test(raw)) return true;
  if (FALSE.test(raw)) return false;
  throw new EnvValueError('must be true or false (also 1/0, yes/no, on/off)');
}
const filePath = (raw: string, cwd: string): string => path.resolve(cwd, raw);

const spec = <T>(s: Spec<T>): Spec<unknown> => s as Spec<unknown>;

/** In order of application: a later variable for the same key wins (KEYS_FILE_PATH over KEYS_FILE). */
const SPECS: Spec<unknown>[] = [
  spec({ variable: 'KEYS_FILE', key: 'keys.file', parse: filePath, apply: (c, v: string) => (c.keys.file = v) }),
  spec({ variable: 'KEYS_FILE_PATH', key: 'keys.file', parse: filePath, apply: (c, v: string) => (c.keys.file = v) }),
  spec({ variable: 'SERVER_PORT', key: 'server.http_port', parse: port, apply: (c, v: number) => (c.server.http_port = v) }),
  spec({ variable: 'REQUEST_TIMEOUT', key: 'server.request_timeout_seconds', parse: seconds, apply: (c, v: number) => (c.server.request_timeout_seconds = v) }),
  spec({ variable: 'LOG_TO_FILE', key: 'logging.file.enabled', parse: bool, apply: (c, v: boolean) => (c.logging.file.enabled = v) }),
  spec({ variable: 'LOG_FILE_PATH', key: 'logging.file.path', parse: filePath, apply: (c, v: string) => (c.logging.file.path = v) }),
];

/** The variables the loader applies, and the key each overrides (for docs and the startup log). */
export const ENV_OVERRIDES: readonly EnvOverride[] = SPECS.map(({ variable, key }) => ({ variable, key }));

const valueOf = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** The overrides set in `env` (non-empty), in the order they are applied. */
export function envOverridesIn(env: NodeJS.ProcessEnv): EnvOverride[] {
  return ENV_OVERRIDES.filter((o) => valueOf(env, o.variable) !== undefined);
}

/**
 * Applies the environment over a validated configuration (defaults and file values already in
 * it). Problems name the variable; all of them are reported at once.
 */
export function applyEnvOverrides(config: GatewayConfig, env: NodeJS.ProcessEnv, cwd: string): string[] {
  const problems: string[] = [];
  for (const s of SPECS) {
    const raw = valueOf(env, s.variable);
    if (raw === undefined) continue;
    try {
      s.apply(config, s.parse(raw, cwd));
    } catch (err) {
      if (!(err instanceof EnvValueError)) throw err;
      problems.push(`${s.variable}=${JSON.stringify(raw.slice(0, 64))} (overrides ${s.key}): ${err.message}`);
    }
  }
  return problems;
}
