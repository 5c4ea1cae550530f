import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Logger } from '../observability/logger';
import { PROJECT_ROOT } from '../paths';

interface LocateResult {
  bin: string | null;
  version: string | null;
  tried: string[];
}

// The install script is plain JavaScript so it can run before TypeScript is compiled.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const installer = require(path.join(PROJECT_ROOT, 'scripts', 'install-envoy.js')) as {
  locate(explicit?: string): LocateResult;
  WANT_MINOR: string;
};

export class EnvoyMissingError extends Error {}

/** Finds Envoy of the pinned minor version or explains exactly how to get one. */
export function findEnvoy(explicit?: string): { bin: string; version: string } {
  const found = installer.locate(explicit ?? process.env.ENVOY_BIN);
  if (found.bin && found.version) return { bin: found.bin, version: found.version };
  const tried = found.tried.length ? ` (tried: ${found.tried.join('; ')})` : '';
  throw new EnvoyMissingError(
    `Envoy ${installer.WANT_MINOR}.x not found${tried}. Run \`npm run envoy:install\` to fetch it, ` +
      'set ENVOY_BIN=/path/to/envoy, or start with --no-envoy and run Envoy yourself.',
  );
}

let setprivAvailable: boolean | undefined;
/** `setpriv --pdeathsig` makes the kernel stop Envoy if this process dies, even by SIGKILL. */
function hasSetpriv(): boolean {
  setprivAvailable ??= spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;
  return setprivAvailable;
}

export interface EnvoyOptions {
  bin: string;
  bootstrapPath: string;
  logLevel: string;
  concurrency: number;
  adminAddress: string;
  adminPort: number;
  drainSeconds: number;
  log: Logger;
}

/** Runs Envoy as a child process: start, readiness, graceful drain, and exit reporting. */
export class EnvoySupervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;

  constructor(private readonly opts: EnvoyOptions) {
    super();
  }

  start(): void {
    const { bin, bootstrapPath, logLevel, concurrency, drainSeconds } = this.opts;
    const args = [
      '-c', bootstrapPath,
      '--log-level', logLevel,
      '--concurrency', String(concurrency),
      '--drain-time-s', String(Math.max(1, Math.ceil(drainSeconds))),
      '--parent-shutdown-time-s', String(Math.max(2, Math.ceil(drainSeconds) + 1)),
      '--disable-hot-restart',
      '--log-format', '{"time":"%Y-%m-%dT%T.%eZ","level":"%l","service":"envoy","logger":"%n","msg":"%j"}',
    ];
    const [cmd, cmdArgs] = hasSetpriv() ? ['setpriv', ['--pdeathsig', 'TERM', '--', bin, ...args]] : [bin, args];
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    child.on('error', (err) => this.emit('exit', { code: null, signal: null, error: err.message }));
    child.on('exit', (code, signal) => {
      this.child = undefined;
      this.emit('exit', { code, signal, expected: this.stopping });
    });
    this.opts.log.info({ pid: child.pid, bootstrap: bootstrapPath }, 'envoy started');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  private adminUrl(p: string): string {
    return `http://${this.opts.adminAddress}:${this.opts.adminPort}${p}`;
  }

  /** Resolves when Envoy's admin `/ready` answers 200. */
  async waitReady(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.child) throw new Error('envoy exited before becoming ready');
      try {
        const res = await fetch(this.adminUrl('/ready'), { signal: AbortSignal.timeout(500) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`envoy not ready after ${timeoutMs} ms`);
  }

  /** Stops accepting new connections, lets active requests finish, then stops Envoy. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await fetch(this.adminUrl('/drain_listeners?graceful'), { method: 'POST', signal: AbortSignal.timeout(1000) });
      const deadline = Date.now() + this.opts.drainSeconds * 1000;
      while (Date.now() < deadline && (await this.activeRequests()) > 0) await new Promise((r) => setTimeout(r, 100));
    } catch {
      // admin unreachable: fall through to the signal
    }
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }

  private async activeRequests(): Promise<number> {
    const res = await fetch(this.adminUrl('/stats?filter=^http\\.gateway\\.downstream_rq_active$'), { signal: AbortSignal.timeout(500) });
    const m = /downstream_rq_active:\s*(\d+)/.exec(await res.text());
    return m ? Number(m[1]) : 0;
  }

  /** `envoy --mode validate`: returns Envoy's complaint, or undefined when the file is valid. */
  static validate(bin: string, bootstrapPath: string): string | undefined {
    const r = spawnSync(bin, ['--mode', 'validate', '-c', bootstrapPath, '--log-level', 'error'], { encoding: 'utf8' });
    return r.status === 0 ? undefined : (r.stderr || r.stdout || `exit ${r.status}`).trim();
  }
}
