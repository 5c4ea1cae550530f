import crypto from 'node:crypto';
import { toolCallRefusal } from '../../src/mcp/ratelimit';
import { compileRules } from '../../src/ratelimit/config';
import { RedisCounters } from '../../src/ratelimit/redis';
import { RateLimiter } from '../../src/ratelimit/limiter';

/**
 * MCP tool calls per minute on Redis counters: two gateway replicas (two limiters on one Redis)
 * share one tool-call limit, as they share request limits.
 */
const url = process.env.TEST_REDIS_URL;
const log = { warn() {}, info() {}, error() {}, debug() {}, child() { return log; } } as never;

(url ? test : test.skip)('two replicas share one tool_calls_per_minute counter in Redis', async () => {
  const prefix = `test:${process.pid}:${crypto.randomBytes(4).toString('hex')}:`;
  const limits = compileRules([{ name: 'tools', match: { team: 'qa', mcp_server: '*' }, tool_calls_per_minute: 3 }] as never);
  const backends = [new RedisCounters({ url: url!, prefix, commandTimeoutMs: 1000 }), new RedisCounters({ url: url!, prefix, commandTimeoutMs: 1000 })];
  await Promise.all(backends.map((c) => c.ready()));
  // fail_closed: a Redis failure would show as an error here rather than pass unnoticed.
  const [a, b] = backends.map((backend) => new RateLimiter({ limits, backend, failureMode: 'fail_closed', log }));
  try {
    const caller = { id: 'k1', kind: 'api_key' as const, team: 'qa' };
    expect(await toolCallRefusal(a, caller, 'files', 'files__read_file')).toBeUndefined();
    expect(await toolCallRefusal(b, caller, 'files', 'files__read_file')).toBeUndefined();
    expect(await toolCallRefusal(a, caller, 'files', 'files__list')).toBeUndefined();
    expect(await toolCallRefusal(b, caller, 'files', 'files__read_file')).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    // Per server: another server has its own counter.
    expect(await toolCallRefusal(b, caller, 'weather', 'weather__forecast')).toBeUndefined();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
