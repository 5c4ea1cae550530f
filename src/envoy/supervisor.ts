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
  log: Logger;
}

/** How often, and how many times in a row, Envoy must report no request in flight to count as drained. */
const DRAIN_POLL_MS = 50;
const QUIET_POLLS = 3;

/** Runs Envoy as a child process: start, readiness, graceful drain, and exit reporting. */
export class EnvoySupervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;

  constructor(private readonly opts: EnvoyOptions) {
    super();
  }

  start(): void {
    const { bin, bootstrapPath, logLevel, concurrency } = this.opts;
    const args = [
      '-c', bootstrapPath,
      '--log-level', logLevel,
      '--concurrency', String(concurrency),
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

  /**
   * Stops taking new traffic and waits, up to `graceMs`, until no request is in flight and every
   * response has left Envoy. Resolves true when Envoy drained, false when the grace period ran
   * out first. Envoy keeps running: `stop()` ends it.
   */
  async drain(graceMs: number): Promise<boolean> {
    if (!this.child) return true;
    const deadline = Date.now() + graceMs;
    // Failing health makes load balancers (and Envoy's /ready) stop sending here, and makes
    // every connection close after its current response instead of taking another request.
    // Then the listeners stop at once: new connections are refused, open ones carry on.
    try {
      await this.post('/healthcheck/fail');
      await this.post('/drain_listeners');
    } catch (err) {
      this.opts.log.warn({ err: { message: (err as Error).message } }, 'envoy admin interface failed while draining');
    }
    this.opts.log.info({ grace_ms: graceMs }, 'envoy draining: listeners closed, waiting for requests in flight');
    // Several quiet polls in a row: a keep-alive connection may carry one more request right
    // after a response that left before the drain began.
    let quiet = 0;
    while (this.child && Date.now() < deadline) {
      quiet = (await this.pending()) === 0 ? quiet + 1 : 0;
      if (quiet >= QUIET_POLLS) return true;
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    return !this.child;
  }

  /** Stops Envoy (SIGTERM, then SIGKILL after 5 s); whatever is still in flight is cut. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }

  private async post(p: string): Promise<void> {
    const res = await fetch(this.adminUrl(p), { method: 'POST', signal: AbortSignal.timeout(1000) });
    await res.text();
    if (!res.ok) throw new Error(`envoy admin ${p} answered ${res.status}`);
  }

  /**
   * Requests in flight plus response bytes Envoy still holds for slow readers (an HTTP/1 stream
   * is done once its response is buffered, not sent); -1 when the admin interface does not answer.
   */
  private async pending(): Promise<number> {
    try {
      // Both listeners (plain and mTLS) share the connection manager's stat prefix `gateway`.
      const res = await fetch(this.adminUrl('/stats?filter=^http\\.gateway\\.downstream_(rq_active|cx_tx_bytes_buffered)$'), { signal: AbortSignal.timeout(500) });
      return [...(await res.text()).matchAll(/:\s*(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    } catch {
      return -1;
    }
  }

  /** `envoy --mode validate`: returns Envoy's complaint, or undefined when the file is valid. */
  static validate(bin: string, bootstrapPath: string): string | undefined {
    const r = spawnSync(bin, ['--mode', 'validate', '-c', bootstrapPath, '--log-level', 'error'], { encoding: 'utf8' });
    return r.status === 0 ? undefined : (r.stderr || r.stdout || `exit ${r.status}`).trim();
  }
}
