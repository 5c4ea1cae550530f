import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import { compileRules } from './config';
import { MemoryCounters, type CounterBackend } from './counters';
import { redactUrl } from '../util/url';
import { RateLimiter } from './limiter';


/** ioredis is loaded only when Redis is configured: it costs a gateway without it ~13 MiB of RSS. */
function redisCounters(): typeof import('./redis').RedisCounters {
  return (require('./redis') as typeof import('./redis')).RedisCounters;
}

/**
 * The processor's RateLimitService: the configured rules over in-process counters, or Redis
 * counters when `rate_limits.redis_url` (or $REDIS_URL) is set.
 */
export function createRateLimiter(
  config: GatewayConfig,
  opts: { log: Logger; registry?: Registry; env?: NodeJS.ProcessEnv },
): RateLimiter {
  const rl = config.rate_limits;
  const env = opts.env ?? process.env;
  const url = rl.redis_url || env.REDIS_URL || undefined;
  const backend: CounterBackend = url
    ? new (redisCounters())({
        url,
        // Every key of a deployment in one hash slot ({domain}), so the multi-key script also
        // runs on a Redis cluster.
        prefix: `rl:{${rl.domain}}:`,
        // Answer before Envoy gives up on the call, so failure_mode is ours to apply.
        commandTimeoutMs: Math.max(5, Math.floor(rl.timeout_ms * 0.8)),
        log: opts.log,
      })
    : new MemoryCounters();
  const limits = compileRules(rl.rules);
  opts.log.info(
    { backend: backend.name, redis: url ? redactUrl(url, 'redis://(unparsable)') : undefined, rules: rl.rules.map((r) => r.name), failure_mode: rl.failure_mode, timeout_ms: rl.timeout_ms },
    'rate limiting',
  );
  return new RateLimiter({ limits, backend, failureMode: rl.failure_mode, log: opts.log, registry: opts.registry });
}
