import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Usage inserts on a thread of their own, with their own connection to the SQLite file (WAL
 * lets it write beside the main thread's reads). better-sqlite3 is synchronous: a batch
 * written on the main thread held up every request in flight for its duration (a few ms per
 * few hundred records at saturation). The main thread only turns records into rows.
 */
export class SqliteUsageThread {
  private readonly pending = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failed: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { id: number; inserted?: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.inserted ?? 0);
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`usage writer thread exited (code ${code})`)));
    // Alive only while a batch is being written: an idle thread never holds the process open,
    // and one writing is waited for (a shutdown's last flush).
    worker.unref();
  }

  /**
   * A thread writing to `file`, or undefined where it cannot run: an in-memory database (one
   * connection only), or sources run without a build (the thread's script is compiled JS).
   */
  static start(file: string, busyTimeoutMs: number): SqliteUsageThread | undefined {
    const script = path.join(__dirname, 'sqlite-usage-worker.js');
    if (file === ':memory:' || !fs.existsSync(script)) return undefined;
    return new SqliteUsageThread(new Worker(script, { workerData: { file, busyTimeoutMs } }));
  }

  /** Inserts rows (in USAGE_COLUMNS order) in one transaction; resolves with how many were new. */
  insertBatch(rows: unknown[][]): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, rows });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
