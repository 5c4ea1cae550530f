import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../observability/logger';
import { isFromWorker, type FromWorker, type ToWorker, type WorkerMetrics } from './messages';

type Request = { type: 'refresh' } | { type: 'metrics' } | { type: 'interrupt' } | { type: 'move-connections' } | { type: 'close'; graceMs: number };

interface Pending {
  waiting: Set<number>;
  replies: FromWorker[];
  done: () => void;
}

const READY_TIMEOUT_MS = 60_000;
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The primary's side of the processor workers (node:cluster): forks them running this same CLI,
 * restarts one that dies, and asks all of them at once (refresh, metrics, shutdown).
 *
 * The workers share processor.ext_proc_port: cluster's primary accepts each connection and hands
 * it to one worker, round robin. Envoy keeps one HTTP/2 connection per worker thread to that
 * port, so the listener stream of a request and the per-attempt stream of its fallback chain
 * reach the same worker, the one that holds the exchange.
 */
export class WorkerPool {
  private readonly workers = new Map<number, Worker>();
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private stopping = false;

  constructor(
    private readonly count: number,
    private readonly log: Logger,
  ) {}

  /** Forks the workers; resolves when every one serves, rejects if one dies first. */
  async start(): Promise<void> {
    cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2), silent: false });
    await Promise.all(Array.from({ length: this.count }, () => this.fork()));
    this.log.info({ workers: this.count }, 'processor workers serving ext_proc');
  }

  private fork(): Promise<void> {
    const worker = cluster.fork({ GATEWAY_PROCESSOR_WORKER: '1' });
    this.workers.set(worker.id, worker);
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => reject(new Error(`processor worker ${worker.id} not ready in ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      worker.on('message', (m: unknown) => {
        if (!isFromWorker(m)) return;
        if (m.type === 'ready') {
          ready = true;
          clearTimeout(timer);
          resolve();
        } else this.onReply(worker.id, m);
      });
      worker.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.workers.delete(worker.id);
        // A worker that is gone answers nothing more.
        for (const [id, p] of this.pending) if (p.waiting.delete(worker.id) && p.waiting.size === 0) this.settle(id);
        if (!ready) return reject(new Error(`processor worker ${worker.id} exited while starting (${signal ?? `code ${code}`})`));
        if (this.stopping) return;
        this.log.error({ worker: worker.id, code, signal }, 'processor worker died; starting another');
        this.restart(0);
      });
    });
  }

  /** Starts a replacement; one that fails to start is tried again, less and less often. */
  private restart(failures: number): void {
    const delay = Math.min(RESTART_DELAY_MS * 2 ** failures, MAX_RESTART_DELAY_MS);
    setTimeout(() => {
      if (this.stopping) return;
      this.fork().then(
        () => this.rebalance(),
        (err: Error) => {
          this.log.error({ err: { message: err.message }, failures: failures + 1 }, 'processor worker restart failed; trying again');
          this.restart(failures + 1);
        },
      );
    }, delay).unref();
  }

  private onReply(workerId: number, m: FromWorker & { type: 'reply' }): void {
    const p = this.pending.get(m.id);
    if (!p || !p.waiting.delete(workerId)) return;
    if (m.error) this.log.warn({ worker: workerId, err: { message: m.error } }, 'processor worker request failed');
    p.replies.push(m);
    if (p.waiting.size === 0) this.settle(m.id);
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.done();
  }

  /**
   * After a worker was replaced, Envoy's connections all sit on the survivors (they reconnected
   * while it was down). The survivors close theirs as soon as no request on one still awaits
   * per-attempt streams; Envoy reopens them and node:cluster spreads them over every worker.
   */
  private async rebalance(): Promise<void> {
    const replies = await this.ask({ type: 'move-connections' }, 35_000);
    const moved = replies.reduce((n, r) => n + (r.type === 'reply' ? (r.moved ?? 0) : 0), 0);
    this.log.info({ moved }, 'processor workers: connections moved for the replaced worker to take its share');
  }

  /** Sends one request to every live worker; resolves with their replies (or what came in time). */
  private ask(req: Request, timeoutMs: number): Promise<FromWorker[]> {
    const id = ++this.seq;
    const live = [...this.workers.values()].filter((w) => w.isConnected());
    if (live.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const replies: FromWorker[] = [];
      const timer = setTimeout(() => {
        this.log.warn({ request: req.type, missing: this.pending.get(id)?.waiting.size }, 'processor workers did not all answer in time');
        this.settle(id);
      }, timeoutMs);
      this.pending.set(id, {
        waiting: new Set(live.map((w) => w.id)),
        replies,
        done: () => {
          clearTimeout(timer);
          resolve(replies);
        },
      });
      for (const w of live) w.send({ ...req, id } as ToWorker);
    });
  }

  /** Every worker re-reads keys, settings and providers now. */
  async refresh(): Promise<void> {
    await this.ask({ type: 'refresh' }, 5000);
  }

  async metrics(): Promise<WorkerMetrics[]> {
    const replies = await this.ask({ type: 'metrics' }, 5000);
    return replies.flatMap((r) => (r.type === 'reply' && r.metrics ? [r.metrics] : []));
  }

  async interrupt(): Promise<void> {
    await this.ask({ type: 'interrupt' }, 15_000);
  }

  /** Workers finish (up to graceMs), flush their usage records and exit. */
  async close(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers.values()].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    await this.ask({ type: 'close', graceMs }, graceMs + 30_000);
    const force = setTimeout(() => {
      for (const w of this.workers.values()) w.process.kill('SIGKILL');
    }, 5000);
    await Promise.all(exits);
    clearTimeout(force);
  }
}
