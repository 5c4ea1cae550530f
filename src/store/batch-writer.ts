import type { Logger } from '../observability/logger';

export interface BatchWriterOptions {
  /** Most items held in memory; beyond it new items are dropped (and counted). */
  maxQueue: number;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest pause between retries while the database is failing. */
  maxBackoffMs: number;
}

export interface BatchWriterEvents {
  queued(n: number): void;
  written(n: number): void;
  retried(n: number): void;
  dropped(n: number): void;
  depth(n: number): void;
}

/**
 * Writes items to the store in batches, off the request path (usage records, audit records).
 * `enqueue` is O(1) and never waits for the database; a slow or failing database only grows the
 * queue (bounded), with retries backing off exponentially. `close` flushes what is queued.
 * `write` must be idempotent per item: a batch that failed part-way is written again whole.
 */
export class BatchWriter<T> {
  private queue: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private backoffMs = 0;
  /** close() has begun: it writes what is queued, including items that arrive meanwhile. */
  private closed = false;
  /** close() has returned: nothing would write a new item. */
  private done = false;

  constructor(
    /** What is written, for log lines ("usage", "audit"). */
    private readonly what: string,
    private readonly write: (batch: T[]) => Promise<unknown>,
    private readonly opts: BatchWriterOptions,
    private readonly events: BatchWriterEvents,
    private readonly log: Logger,
  ) {}

  enqueue(item: T): void {
    if (this.done) {
      // Never silently: a record after shutdown means something outlived the processor.
      this.events.dropped(1);
      this.log.error(`${this.what} record arrived after the writer closed; not written`);
      return;
    }
    if (this.queue.length >= this.opts.maxQueue) {
      this.events.dropped(1);
      return;
    }
    this.queue.push(item);
    this.events.queued(1);
    this.events.depth(this.queue.length);
    if (this.queue.length >= this.opts.batchSize && !this.writing && this.backoffMs === 0) this.kick(0);
    else this.schedule();
  }

  get depth(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (!this.timer && !this.writing && !this.closed) this.kick(this.backoffMs || this.opts.flushIntervalMs);
  }

  private kick(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delay);
    this.timer.unref();
  }

  /** Writes batches until the queue is empty or the store fails. */
  private drain(): Promise<void> {
    this.writing ??= (async () => {
      // Start asynchronously: with nothing to write, `finally` would otherwise clear `writing`
      // before `??=` assigns it, leaving a settled promise that blocks every later drain.
      await Promise.resolve();
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.slice(0, this.opts.batchSize);
          try {
            await this.write(batch);
          } catch (err) {
            this.backoffMs = Math.min(this.opts.maxBackoffMs, Math.max(100, this.backoffMs * 2));
            this.events.retried(batch.length);
            this.log.warn({ err: { message: (err as Error).message }, queued: this.queue.length, retry_in_ms: this.backoffMs }, `${this.what} write failed; will retry`);
            return;
          }
          this.queue.splice(0, batch.length);
          this.backoffMs = 0;
          this.events.written(batch.length);
          this.events.depth(this.queue.length);
        }
      } finally {
        this.writing = undefined;
        if (this.queue.length > 0 && !this.closed) this.schedule();
      }
    })();
    return this.writing;
  }

  /** Writes what is queued now (tests, and callers that must see their records stored). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await (this.writing ?? this.drain());
  }

  /** Flushes everything queued, retrying until `deadlineMs` passes; returns what is left unwritten. */
  async close(deadlineMs = 10000): Promise<number> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const end = Date.now() + deadlineMs;
    while (this.queue.length > 0 && Date.now() < end) {
      await (this.writing ?? this.drain());
      if (this.queue.length > 0) await new Promise((r) => setTimeout(r, Math.min(this.backoffMs || 50, Math.max(0, end - Date.now()))));
    }
    await this.writing;
    this.done = true;
    const left = this.queue.length;
    if (left > 0) {
      this.events.dropped(left);
      this.log.error({ unwritten: left }, `${this.what} records could not be written before shutdown`);
    }
    return left;
  }
}
