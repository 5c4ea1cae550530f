import type { Logger } from '../observability/logger';
import type { UsageRecord, UsageStore } from '../store/types';

export interface UsageWriterOptions {
  /** Most records held in memory; beyond it new records are dropped (and counted). */
  maxQueue: number;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest pause between retries while the database is failing. */
  maxBackoffMs: number;
}

export interface UsageWriterEvents {
  queued(n: number): void;
  written(n: number): void;
  retried(n: number): void;
  dropped(n: number): void;
  depth(n: number): void;
}

/**
 * Writes usage records to the store in batches, off the request path. `enqueue` is O(1) and
 * never waits for the database; a slow or failing database only grows the queue (bounded),
 * with retries backing off exponentially. `close` flushes what is queued.
 */
export class UsageWriter {
  private queue: UsageRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private backoffMs = 0;
  private closed = false;

  constructor(
    private readonly store: UsageStore,
    private readonly opts: UsageWriterOptions,
    private readonly events: UsageWriterEvents,
    private readonly log: Logger,
  ) {}

  enqueue(r: UsageRecord): void {
    if (this.queue.length >= this.opts.maxQueue) {
      this.events.dropped(1);
      return;
    }
    this.queue.push(r);
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
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.slice(0, this.opts.batchSize);
          try {
            await this.store.insertBatch(batch);
          } catch (err) {
            this.backoffMs = Math.min(this.opts.maxBackoffMs, Math.max(100, this.backoffMs * 2));
            this.events.retried(batch.length);
            this.log.warn({ err: { message: (err as Error).message }, queued: this.queue.length, retry_in_ms: this.backoffMs }, 'usage write failed; will retry');
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
    const left = this.queue.length;
    if (left > 0) {
      this.events.dropped(left);
      this.log.error({ unwritten: left }, 'usage records could not be written before shutdown');
    }
    return left;
  }
}
