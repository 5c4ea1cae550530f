import { redactUrl as redactUrlWith } from '../util/url';
import Redis from 'ioredis';
import type { Logger } from '../observability/logger';
import type { ApplyResult, CounterBackend, CounterOp } from './counters';

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

// KEYS: the counters. ARGV: per key hits, limit, window ms, mode ('limit' | 'check' | 'charge').
// Returns {over, count1, resetMs1, count2, resetMs2, ...}.
const APPLY = `
local n = #KEYS
local counts = {}
local over = 0
for i = 1, n do
  local b = (i - 1) * 4
  local hits, limit, mode = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 4]
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  counts[i] = c
  if (mode == 'limit' and c + hits > limit) or (mode == 'check' and c >= limit) then over = 1 end
end
local out = {over}
for i = 1, n do
  local b = (i - 1) * 4
  local hits, window, mode = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3]), ARGV[b + 4]
  local c = counts[i]
  if hits > 0 and (mode == 'charge' or over == 0) then
    c = redis.call('INCRBY', KEYS[i], hits)
  end
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl == -1 then
    redis.call('PEXPIRE', KEYS[i], window)
    ttl = window
  elseif ttl < 0 then
    ttl = window
  end
  out[#out + 1] = c
  out[#out + 1] = ttl
end
return out
`;

type ApplyCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

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
  private readonly redis: Redis;
  private readonly run: ApplyCommand;
  private lastErrorLog = 0;

  constructor(private readonly opts: RedisCountersOptions) {
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      // Keep reconnecting for as long as the gateway runs: Redis coming back restores sharing.
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    // Without a listener ioredis prints every failed reconnect; log them at most every 10 s.
    this.redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 10_000) return;
      this.lastErrorLog = now;
      opts.log?.warn({ err: { message: err.message } }, 'rate limit counters: Redis unavailable');
    });
    this.redis.on('ready', () => opts.log?.info({ url: redactUrl(opts.url) }, 'rate limit counters: Redis connected'));
    this.redis.defineCommand('gatewayRateLimit', { lua: APPLY });
    this.run = (this.redis as unknown as { gatewayRateLimit: ApplyCommand }).gatewayRateLimit.bind(this.redis);
  }

  async apply(ops: CounterOp[]): Promise<ApplyResult> {
    if (ops.length === 0) return { over: false, counters: [] };
    const keys = ops.map((op) => `${this.opts.prefix}${op.key}`);
    const args = ops.flatMap((op) => [Math.max(0, Math.round(op.hits)), op.limit, op.windowMs, op.mode]);
    const reply = await this.run(keys.length, ...keys, ...args);
    const counters = ops.map((_op, i) => ({ count: Number(reply[1 + 2 * i]), resetMs: Number(reply[2 + 2 * i]) }));
    return { over: Number(reply[0]) === 1, counters };
  }

  /** Resolves once connected (tests and start-up logs); rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error('Redis did not become ready'));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** The URL without its password, for logs. */
export const redactUrl = (url: string): string => redactUrlWith(url, 'redis://(unparsable)');
