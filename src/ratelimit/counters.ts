/**
 * Rate limit counters: sliding windows, approximated by two consecutive fixed windows (the
 * well-known "sliding window counter"). A counter's windows start with the first hit it takes
 * and follow one another, one unit (a minute, an hour, ...) each. Its count at time `now` is the
 * current window's hits plus the previous window's hits weighted by how much of them is still
 * inside the sliding window `(now - window, now]`.
 *
 * The weight: the previous window's hits are assumed spread evenly over the span they really
 * occupied, from the window's start to its last hit (not over the whole window, as in the
 * textbook version), so a burst slides out exactly one window after it happened: a caller that
 * spent its limit at once can make its next request one window later, as with an exact sliding
 * window, not up to two windows later.
 *
 * Error bound (request limits, `limit` mode): any interval of length D <= one window admits at
 * most `limit × (1 + D / window)` hits. Only the previous window's hits after the interval's start
 * can be under-weighted, by at most the share D / window of them (they are spread over at most one
 * window). So a burst lasting a tenth of a window, straddling a boundary or not, passes at most
 * 1.1× the limit, where a fixed window lets 2× through in an instant; 2× is reached only by a
 * caller pacing requests over a whole window after a burst at the previous window's very end, as
 * with any two-window approximation. The other way round, uneven spread can also over-count
 * (refuse early), but a refused caller never waits more than one window after its last hit.
 *
 * Counts are integers: the previous window's weighted share is rounded up, so `count + hits <=
 * limit` exactly when the real-valued estimate allows the hits, and `limit - count` is the
 * number of one-unit requests that would pass right now.
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
  /** The count after this call (including the hits, if they were added): the sliding estimate. */
  count: number;
  /** Milliseconds until the counter has room again, or until its window ends: see `resetMs`. */
  resetMs: number;
}

export interface ApplyResult {
  /** True when a `limit` or `check` op refused: no `limit` op was counted. */
  over: boolean;
  counters: CounterState[];
}

/**
 * One atomic step over a request's counters (one op per distinct key): read them all; if any
 * `limit` or `check` op refuses, add nothing to the `limit` ops, otherwise add every op's hits.
 * `charge` ops are added either way. Atomic per call, so concurrent callers (and replicas, with
 * Redis) never lose an increment and never both take the last unit of a limit.
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

/**
 * A counter's two windows (times in ms on the backend's clock). The Redis script keeps the same
 * fields in a hash (s, p, pl, c, cl) and must compute exactly what these functions do.
 */
export interface SlidingWindow {
  /** Start of the current window; the previous one is [start - window, start). */
  start: number;
  /** Hits of the previous window, all within [start - window, prevLast]. */
  prev: number;
  prevLast: number;
  /** Hits of the current window, all within [start, last] (when count > 0). */
  count: number;
  /** The counter's last hit: nothing is left once `last + window` has passed. */
  last: number;
}

/**
 * Brings a stored window forward to `now` (in place): one window later the current window
 * becomes the previous one; false when nothing it counted is left in the sliding window (the
 * next hit then starts a new window). Rolling is idempotent, so rolling on reads (memory) and
 * recomputing the roll on every call (Redis) agree.
 */
export function roll(w: SlidingWindow, windowMs: number, now: number): boolean {
  if (now >= w.start + 2 * windowMs) return false;
  if (now >= w.start + windowMs) {
    w.prev = w.count;
    w.prevLast = w.last;
    w.count = 0;
    w.start += windowMs;
  }
  return w.count > 0 || (w.prev > 0 && w.prevLast + windowMs > now);
}

/** The sliding count at `now` (>= w.start): the current window's hits plus the previous window's share, rounded up. */
export function slidingCount(w: SlidingWindow, windowMs: number, now: number): number {
  const left = w.prevLast + windowMs - now;
  if (w.prev === 0 || left <= 0) return w.count;
  const span = w.prevLast - (w.start - windowMs);
  // Same operations in the same order as the Lua script (IEEE doubles in both).
  return w.count + (span === 0 ? w.prev : Math.ceil((w.prev * left) / span));
}

/**
 * `retry-after` and `x-ratelimit-reset-*` (the op's `resetMs`), from the counter after the call:
 *  - no room (a refused op, or a counter that cannot take one more op like it: the op's hits for
 *    `limit`, one token for `check` and `charge`): the time until enough of what it counted has
 *    slid out for that, assuming no other traffic: while the previous window slides out if the
 *    current window's own hits leave room, else into the next window, as the current window's
 *    hits slide out. Never more than one window (the last hit slides out a window after it).
 *  - room: the time until the current window ends (its hits then start to slide out), a whole
 *    window for a counter that counts nothing; also when no wait could make room (hits > limit).
 * So for one-unit requests `remaining` is 0 exactly when the reset is the wait for the next one.
 */
export function resetMs(w: SlidingWindow | undefined, op: CounterOp, count: number, now: number): number {
  const windowMs = op.windowMs;
  if (!w) return windowMs;
  const target = op.limit - (op.mode === 'limit' ? Math.max(1, op.hits) : 1);
  if (count <= target || target < 0) return w.start + windowMs - now;
  let at: number;
  if (w.count <= target) {
    // The previous window's share must drop to (target - count): p × left / span <= target - count.
    const span = w.prevLast - (w.start - windowMs);
    at = span === 0 ? w.prevLast + windowMs : w.prevLast + windowMs - ((target - w.count) * span) / w.prev;
  } else {
    // Next window, the current one being the previous: count × left / span <= target.
    const span = w.last - w.start;
    at = span === 0 ? w.last + windowMs : w.last + windowMs - (target * span) / w.count;
  }
  return Math.max(1, Math.ceil(at - now));
}

interface Entry extends SlidingWindow {
  windowMs: number;
}

/** Counters in this process (the default without Redis). */
export class MemoryCounters implements CounterBackend {
  readonly name = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  /** `now`: the clock (injectable for tests). */
  constructor(private readonly now: () => number = Date.now) {
    // Forget counters with nothing left so the map does not grow with every caller ever seen.
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Synchronous inside: nothing else runs between reading and updating the counters. */
  async apply(ops: CounterOp[]): Promise<ApplyResult> {
    const clock = this.now();
    const n = ops.length;
    const live: (Entry | undefined)[] = new Array(n);
    const counts: number[] = new Array(n);
    let over = false;
    for (let i = 0; i < n; i++) {
      const op = ops[i];
      let e = this.entries.get(op.key);
      if (e && !roll(e, op.windowMs, Math.max(clock, e.start))) {
        this.entries.delete(op.key);
        e = undefined;
      }
      live[i] = e;
      counts[i] = e ? slidingCount(e, op.windowMs, Math.max(clock, e.start)) : 0;
      if (refuses(op, counts[i])) over = true;
    }
    const counters: CounterState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const op = ops[i];
      let e = live[i];
      let count = counts[i];
      if (op.hits > 0 && (op.mode === 'charge' || !over)) {
        // (A key twice in one call, though callers send one op per key: the entry made by the first.)
        e ??= this.entries.get(op.key);
        if (!e) {
          e = { start: clock, prev: 0, prevLast: 0, count: 0, last: clock, windowMs: op.windowMs };
          this.entries.set(op.key, e);
        }
        // A clock stepping back never moves a hit before its window's start.
        e.last = Math.max(e.last, clock, e.start);
        e.count += op.hits;
        count += op.hits;
      }
      counters[i] = { count, resetMs: resetMs(e, op, count, e ? Math.max(clock, e.start) : clock) };
    }
    return { over, counters };
  }

  sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (now >= e.last + e.windowMs) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
