import Redis from 'ioredis';
import type { Logger } from '../observability/logger';
import { redactUrl } from './url';

/** Calls the script: `numKeys` keys first in `args`, then its arguments; answers its integers. */
export type ScriptCall = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

export interface RedisScriptOptions {
  url: string;
  /** Per-command deadline: callers answer per their failure mode when it passes. */
  commandTimeoutMs: number;
  /** What the script serves, in log lines (`rate limit counters`, `budget ledger`). */
  purpose: string;
  /** The Lua script, run atomically by Redis. */
  lua: string;
  log?: Logger;
}

/**
 * One Lua script on one Redis server: the shared state of the rate limit counters and the budget
 * ledger. Commands fail fast while Redis is unreachable (no offline queue, no per-command
 * retries, a command timeout), so callers can decide in time; the client keeps reconnecting in
 * the background for as long as the gateway runs, and logs failures at most every 10 s.
 */
export class RedisScript {
  readonly run: ScriptCall;
  private readonly redis: Redis;
  private lastErrorLog = 0;

  constructor(opts: RedisScriptOptions) {
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    // Without a listener ioredis prints every failed reconnect.
    this.redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 10_000) return;
      this.lastErrorLog = now;
      opts.log?.warn({ err: { message: err.message } }, `${opts.purpose}: Redis unavailable`);
    });
    this.redis.on('ready', () => opts.log?.info({ url: redactRedisUrl(opts.url) }, `${opts.purpose}: Redis connected`));
    this.redis.defineCommand('gatewayScript', { lua: opts.lua });
    this.run = (this.redis as unknown as { gatewayScript: ScriptCall }).gatewayScript.bind(this.redis);
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

  close(): void {
    this.redis.disconnect();
  }
}

/** A Redis URL without its password, for logs. */
export const redactRedisUrl = (url: string): string => redactUrl(url, 'redis://(unparsable)');
