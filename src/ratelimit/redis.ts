import type { Logger } from '../observability/logger';
import { RedisScript, redactRedisUrl } from '../util/redis-script';
import { resetMs, type ApplyResult, type CounterBackend, type CounterOp, type CounterState } from './counters';

/**
 * The counters of `MemoryCounters`, in Redis, so every gateway replica enforces one shared limit.
 * A request's counters are read and updated by one Lua script, which Redis runs atomically:
 * concurrent replicas never lose an increment or both take the last unit of a limit.
 *
 * Commands fail fast while Redis is unreachable (no offline queue, a command timeout below
 * Envoy's deadline), so the service can answer per `failure_mode` in time; the client keeps
 * reconnecting in the background. One Redis server (or primary): a cluster would need all of a
 * request's keys in one hash slot.
 */

// The sliding windows of counters.ts (roll, slidingCount: keep the two in step), one hash per
// counter: s (current window start, ms), p and pl (previous window's hits and its last hit),
// c (current window's hits) and cl (the counter's last hit). The clock is the Redis server's
// (TIME), not the replicas': however skewed their clocks, they share one timeline, so windows,
// counts and resets agree. Effects replication (Redis >= 5; called for older ones) replicates the
// writes, not the time-dependent script. A hash expires one window after its last hit, when
// nothing it counted is left in the sliding window: at most two windows after its window started.
// KEYS: the counters. ARGV: per key hits, limit, window ms, mode ('limit' | 'check' | 'charge').
// Returns {over, then per key: count, now, s, p, pl, c, cl} (s = 0: no window).
const APPLY = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local st = {}
local over = 0
for i = 1, n do
  local b = (i - 1) * 4
  local hits, limit, w, mode = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), ARGV[b + 4]
  local h = redis.call('HMGET', KEYS[i], 's', 'p', 'pl', 'c', 'cl')
  local s, p, pl, c, cl = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0, tonumber(h[5]) or 0
  local now = clock
  if s then
    if now < s then now = s end
    if now >= s + 2 * w then
      s = nil
    else
      if now >= s + w then p, pl, c, s = c, cl, 0, s + w end
      if c == 0 and (p == 0 or pl + w <= now) then s = nil end
    end
  end
  local count = 0
  if s then
    count = c
    local left = pl + w - now
    if p > 0 and left > 0 then
      local span = pl - (s - w)
      if span == 0 then count = c + p else count = c + math.ceil(p * left / span) end
    end
  else
    now, s, p, pl, c, cl = clock, 0, 0, 0, 0, 0
  end
  if (mode == 'limit' and count + hits > limit) or (mode == 'check' and count >= limit) then over = 1 end
  st[i] = {count, now, s, p, pl, c, cl}
end
local out = {over}
for i = 1, n do
  local b = (i - 1) * 4
  local hits, w, mode = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3]), ARGV[b + 4]
  local x = st[i]
  if hits > 0 and (mode == 'charge' or over == 0) then
    if x[3] == 0 then x[3] = x[2] end
    x[1], x[6], x[7] = x[1] + hits, x[6] + hits, math.max(x[7], x[2])
    redis.call('HSET', KEYS[i], 's', x[3], 'p', x[4], 'pl', x[5], 'c', x[6], 'cl', x[7])
    redis.call('PEXPIREAT', KEYS[i], x[7] + w)
  end
  for j = 1, 7 do out[#out + 1] = x[j] end
end
return out
`;

/** Numbers per counter in the script's reply (after `over`). */
const STRIDE = 7;

export interface RedisCountersOptions {
  url: string;
  /** Prefix of every key (the rate limit domain keeps deployments sharing a Redis apart). */
  prefix: string;
  /** Per-command deadline; keep it below Envoy's rate limit timeout. */
  commandTimeoutMs: number;
  log?: Logger;
}

export class RedisCounters implements CounterBackend {
  readonly name = 'redis' as const;
  private readonly script: RedisScript;

  constructor(private readonly opts: RedisCountersOptions) {
    this.script = new RedisScript({ ...opts, purpose: 'rate limit counters', lua: APPLY });
  }

  async apply(ops: CounterOp[]): Promise<ApplyResult> {
    const n = ops.length;
    if (n === 0) return { over: false, counters: [] };
    const args: (string | number)[] = new Array(n * 5);
    for (let i = 0; i < n; i++) {
      const op = ops[i];
      // `sw:`: hashes, apart from the fixed windows' string keys of earlier versions.
      args[i] = `${this.opts.prefix}sw:${op.key}`;
      const b = n + i * 4;
      args[b] = Math.max(0, Math.round(op.hits));
      args[b + 1] = op.limit;
      args[b + 2] = op.windowMs;
      args[b + 3] = op.mode;
    }
    const reply = await this.script.run(n, ...args);
    const counters: CounterState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const b = 1 + i * STRIDE;
      const count = Number(reply[b]);
      const start = Number(reply[b + 2]);
      const w = start === 0 ? undefined : { start, prev: Number(reply[b + 3]), prevLast: Number(reply[b + 4]), count: Number(reply[b + 5]), last: Number(reply[b + 6]) };
      counters[i] = { count, resetMs: resetMs(w, ops[i], count, Number(reply[b + 1])) };
    }
    return { over: Number(reply[0]) === 1, counters };
  }

  /** Resolves once connected (tests and start-up logs); rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    return this.script.ready(timeoutMs);
  }

  async close(): Promise<void> {
    this.script.close();
  }
}

/** The URL without its password, for logs. */
export const redactUrl = redactRedisUrl;
