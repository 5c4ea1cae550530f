/**
 * Rate limit counters: fixed windows that start with the first hit a counter takes and last one
 * unit (a minute, an hour, ...). Every replica sharing a backend shares the window, and the
 * reset time is the counter's real remaining lifetime, so `retry-after` is exact. Like any
 * fixed window, a caller can spend up to twice the limit across a window boundary.
 */

export type CounterMode =
  /** A request limit: refused (and not counted) when count + hits would pass the limit. */
  | 'limit'
  /** A token limit before the request: refused once the count has reached the limit. */
  | 'check'
  /** Token usage after the response: always added, never refused. */
  | 'charge';

export interface CounterOp {
  key: string;
  hits: number;
  limit: number;
  windowMs: number;
  mode: CounterMode;
}

export interface CounterState {
  /** The count after this call (including the hits, if they were added). */
  count: number;
  /** Milliseconds until the counter's window ends. */
  resetMs: number;
}

export interface ApplyResult {
  /** True when a `limit` or `check` op refused: no `limit` op was counted. */
  over: boolean;
  counters: CounterState[];
}

/**
 * One atomic step over a request's counters: read them all; if any `limit` or `check` op
 * refuses, add nothing to the `limit` ops, otherwise add every op's hits. `charge` ops are added
 * either way. Atomic per call, so concurrent callers (and replicas, with Redis) never lose an
 * increment and never both take the last unit of a limit.
 */
export interface CounterBackend {
  readonly name: 'memory' | 'redis';
  apply(ops: CounterOp[]): Promise<ApplyResult>;
  close(): Promise<void>;
}

/** Whether an op refuses at the given current count. */
export function refuses(op: CounterOp, count: number): boolean {
  if (op.mode === 'limit') return count + op.hits > op.limit;
  if (op.mode === 'check') return count >= op.limit;
  return false;
}

interface Entry {
  count: number;
  expiresAt: number;
}

/** Counters in this process (the default without Redis). */
export class MemoryCounters implements CounterBackend {
  readonly name = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Forget expired counters so the map does not grow with every caller ever seen.
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Synchronous inside: nothing else runs between reading and updating the counters. */
  async apply(ops: CounterOp[]): Promise<ApplyResult> {
    const now = this.now();
    const live = ops.map((op) => {
      const e = this.entries.get(op.key);
      return e && e.expiresAt > now ? e : undefined;
    });
    const over = ops.some((op, i) => refuses(op, live[i]?.count ?? 0));
    const counters = ops.map((op, i) => {
      let e = live[i];
      if (op.hits > 0 && (op.mode === 'charge' || !over)) {
        if (!e) {
          e = { count: 0, expiresAt: now + op.windowMs };
          this.entries.set(op.key, e);
          live[i] = e;
        }
        e.count += op.hits;
      }
      return { count: e?.count ?? 0, resetMs: e ? e.expiresAt - now : op.windowMs };
    });
    return { over, counters };
  }

  sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
