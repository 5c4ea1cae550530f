import type { PluginLogger } from '../../src';
import type { Redis as RedisClient } from 'ioredis';

/** Where entries live: in this process (LRU, bounded bytes) or in Redis (shared by replicas). */
export interface CacheBackend {
  readonly name: 'memory' | 'redis';
  /** The stored value, or undefined. The memory backend answers synchronously. */
  get(key: string): string | undefined | Promise<string | undefined>;
  /** Stores the value for `ttlMs`; false when the backend refuses it (larger than the whole cache). */
  set(key: string, value: string, ttlMs: number): boolean | Promise<boolean>;
  close(): void | Promise<void>;
}

export type EvictionReason = 'size' | 'expired';

export interface MemoryCacheOptions {
  /** Most bytes all entries may take (approximate: see entryBytes). */
  maxBytes: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  onEvict?: (reason: EvictionReason, bytes: number) => void;
}

/** What an entry costs the process: UTF-16 key and value, plus a fixed overhead for the map entry. */
export function entryBytes(key: string, value: string): number {
  return 2 * (key.length + value.length) + 64;
}

interface MemoryEntry {
  value: string;
  bytes: number;
  expiresAt: number;
}

/**
 * An in-process LRU cache bounded in bytes. The Map's insertion order is the recency order: a
 * read moves its entry to the end, and the oldest entries are evicted first when a write takes
 * the total over `maxBytes`. Expired entries are dropped when read or swept.
 */
export class MemoryCache implements CacheBackend {
  readonly name = 'memory' as const;
  private readonly entries = new Map<string, MemoryEntry>();
  private total = 0;
  private readonly now: () => number;

  constructor(private readonly opts: MemoryCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.remove(key, e, 'expired');
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: string, ttlMs: number): boolean {
    const bytes = entryBytes(key, value);
    if (bytes > this.opts.maxBytes || !(ttlMs > 0)) return false;
    const old = this.entries.get(key);
    if (old) {
      // A replacement, not an eviction.
      this.entries.delete(key);
      this.total -= old.bytes;
    }
    this.entries.set(key, { value, bytes, expiresAt: this.now() + ttlMs });
    this.total += bytes;
    while (this.total > this.opts.maxBytes) {
      const oldest = this.entries.entries().next().value as [string, MemoryEntry];
      this.remove(oldest[0], oldest[1], oldest[1].expiresAt <= this.now() ? 'expired' : 'size');
    }
    return true;
  }

  /** Drops every expired entry; returns how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAt <= now) {
        this.remove(k, e, 'expired');
        n++;
      }
    }
    return n;
  }

  close(): void {
    this.entries.clear();
    this.total = 0;
  }

  private remove(key: string, e: MemoryEntry, reason: EvictionReason): void {
    this.entries.delete(key);
    this.total -= e.bytes;
    this.opts.onEvict?.(reason, e.bytes);
  }
}

export interface RedisCacheOptions {
  url: string;
  /** Prefix of every key. */
  prefix: string;
  /** Per-command deadline: a lookup never holds a request longer. */
  timeoutMs: number;
  log: PluginLogger;
}

/**
 * Entries in Redis, shared by every replica (SET with PX, so Redis expires them; bound its memory
 * with `maxmemory` and an LRU policy). Commands fail at once while Redis is unreachable (no
 * offline queue, no retries) and within `timeoutMs` when it hangs; the client keeps reconnecting
 * in the background. ioredis is loaded only when this backend is used.
 */
export class RedisCache implements CacheBackend {
  readonly name = 'redis' as const;
  private readonly redis: RedisClient;
  private lastErrorLog = 0;

  constructor(private readonly opts: RedisCacheOptions) {
    const Redis = (require('ioredis') as typeof import('ioredis')).default;
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.timeoutMs,
      connectTimeout: Math.max(1000, opts.timeoutMs),
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
    });
    // Without a listener ioredis prints every failed reconnect; log at most one every 10 s.
    this.redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 10_000) return;
      this.lastErrorLog = now;
      opts.log.warn({ err: { message: err.message } }, 'response cache: Redis unavailable, requests are served uncached');
    });
    this.redis.on('ready', () => opts.log.info({}, 'response cache: Redis connected'));
  }

  async get(key: string): Promise<string | undefined> {
    const v = await this.redis.get(this.opts.prefix + key);
    return v ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0)) return false;
    await this.redis.set(this.opts.prefix + key, value, 'PX', Math.ceil(ttlMs));
    return true;
  }

  close(): void {
    this.redis.disconnect();
  }
}
