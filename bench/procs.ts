/**
 * Child-process plumbing for the benchmark: free loopback ports, spawning children that die
 * with us, bounded stops, readiness polling and memory readings from /proc.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ports the kernel hands out for loopback right now (all bound at once, so distinct). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, LOOPBACK, () => resolve());
      });
      ports.push((s.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

let setprivAvailable: boolean | undefined;
/** `setpriv --pdeathsig TERM` has the kernel signal the child if this process dies, even by SIGKILL. */
export function withParentDeathSignal(cmd: string, args: string[]): [string, string[]] {
  setprivAvailable ??= spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;
  return setprivAvailable ? ['setpriv', ['--pdeathsig', 'TERM', '--', cmd, ...args]] : [cmd, args];
}

/** A child process we started, with the tail of its output kept for error messages. */
export class Managed {
  readonly tail: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private readonly lineListeners: Array<(line: string) => void> = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      child.once('error', (err) => {
        this.exitInfo ??= { code: null, signal: null };
        this.push(`[spawn error] ${err.message}`);
        resolve();
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (data: string) => {
        const lines = (partial + data).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.push(line);
      });
    }
  }

  private push(line: string): void {
    if (!line.trim()) return;
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    for (const l of this.lineListeners) l(line);
  }

  onLine(listener: (line: string) => void): void {
    this.lineListeners.push(listener);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  describeExit(): string {
    if (!this.exitInfo) return 'running';
    return this.exitInfo.signal ? `killed by ${this.exitInfo.signal}` : `exited with code ${this.exitInfo.code}`;
  }

  output(lines = 15): string {
    return this.tail.slice(-lines).map((l) => `    | ${l}`).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited (bounded). */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    await Promise.race([this.exited, sleep(graceMs + 3000)]);
    clearTimeout(killer);
  }
}

export function startProcess(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Managed {
  const [c, a] = withParentDeathSignal(cmd, args);
  const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return new Managed(name, child);
}

/** Polls `url` until it answers 200, the process dies, or the deadline passes. */
export async function waitForHttp(url: string, proc: Managed | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc && !proc.running) throw new Error(`${proc.name} ${proc.describeExit()} before becoming ready\n${proc.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})${proc ? `\n${proc.output()}` : ''}`);
}

export interface MemoryReading {
  rss_mb: number;
  peak_rss_mb: number;
}

/** VmRSS and VmHWM of a process from /proc, in MiB; undefined if it is gone or not Linux. */
export function memoryOf(pid: number | undefined): MemoryReading | undefined {
  if (!pid) return undefined;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const mb = (v: number) => Math.round((v / 1024) * 10) / 10;
    const rss = kb('VmRSS');
    if (!Number.isFinite(rss)) return undefined;
    return { rss_mb: mb(rss), peak_rss_mb: mb(kb('VmHWM')) };
  } catch {
    return undefined;
  }
}

/** Direct children of a process (Linux /proc), e.g. the Envoy a gateway supervises. */
export function childrenOf(pid: number | undefined): Array<{ pid: number; comm: string }> {
  if (!pid) return [];
  try {
    const ids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return ids.map((id) => {
      let comm = '';
      try {
        comm = fs.readFileSync(`/proc/${id}/comm`, 'utf8').trim();
      } catch {
        // exited meanwhile
      }
      return { pid: id, comm };
    });
  } catch {
    return [];
  }
}

/** Every process below `pid` (children, their children, ...), for processors that fork workers. */
export function descendantsOf(pid: number | undefined): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  const queue = childrenOf(pid);
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...childrenOf(p.pid));
  }
  return out;
}

let clockTicks: number | undefined;
/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const v = Number(r.stdout?.trim());
    clockTicks = Number.isFinite(v) && v > 0 ? v : 100;
  }
  return clockTicks;
}

/** User + system CPU seconds a process (all its threads) has used; undefined if it is gone. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / ticksPerSecond() : undefined;
  } catch {
    return undefined;
  }
}
