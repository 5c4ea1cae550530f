import type { Logger } from '../observability/logger';
import { RedisScript } from '../util/redis-script';
import type { LedgerBackend, LedgerEntry, LedgerOp, LedgerResult } from './ledger';

/**
 * The ledger in Redis, shared by every replica: one hash per account (`spent`, and one field
 * `h:<hold id>` = "<amount>:<expires ms>" per live hold), and one Lua script per operation over
 * all of a request's accounts, so concurrent replicas never both take the last of a budget. The
 * clock is the Redis server's (TIME). Accounts never expire: they hold what was spent.
 *
 * KEYS: the accounts. ARGV: op, hold id, hold ttl ms, then per account limit, amount, min, seed ('' none).
 * Returns {1, granted...} | {0, index, remaining} (refused) | {-1, indexes...} (seed these).
 */
const APPLY = `
if redis.replicate_commands then redis.replicate_commands() end
local op, hold, ttl = ARGV[1], 'h:' .. ARGV[2], tonumber(ARGV[3])
local n = #KEYS
local missing = {}
for i = 1, n do
  if redis.call('HEXISTS', KEYS[i], 'spent') == 0 then
    local seed = ARGV[4 + (i - 1) * 4 + 3]
    if seed == '' then missing[#missing + 1] = i - 1 else redis.call('HSET', KEYS[i], 'spent', seed) end
  end
end
if #missing > 0 then
  local out = {-1}
  for _, i in ipairs(missing) do out[#out + 1] = i end
  return out
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if op == 'settle' then
  for i = 1, n do
    local amount = tonumber(ARGV[4 + (i - 1) * 4 + 1])
    if amount > 0 then redis.call('HINCRBY', KEYS[i], 'spent', amount) end
    redis.call('HDEL', KEYS[i], hold)
  end
  return {1}
end
local left, mine = {}, {}
for i = 1, n do
  local fields = redis.call('HGETALL', KEYS[i])
  local spent, held = 0, 0
  mine[i] = 0
  for j = 1, #fields, 2 do
    local f, v = fields[j], fields[j + 1]
    if f == 'spent' then
      spent = tonumber(v)
    else
      local sep = string.find(v, ':', 1, true)
      local amount, expires = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
      if expires <= now then
        redis.call('HDEL', KEYS[i], f)
      else
        held = held + amount
        if f == hold then mine[i] = amount end
      end
    end
  end
  local limit = tonumber(ARGV[4 + (i - 1) * 4])
  left[i] = math.max(0, limit - spent - held)
end
if op == 'reserve' then
  for i = 1, n do
    if left[i] < tonumber(ARGV[4 + (i - 1) * 4 + 2]) then return {0, i - 1, left[i]} end
  end
end
local out = {1}
for i = 1, n do
  local grant = math.max(0, math.min(tonumber(ARGV[4 + (i - 1) * 4 + 1]), left[i]))
  local before = 0
  if op == 'extend' then before = mine[i] end
  redis.call('HSET', KEYS[i], hold, tostring(before + grant) .. ':' .. tostring(now + ttl))
  out[#out + 1] = grant
end
return out
`;

export interface RedisLedgerOptions {
  url: string;
  /** Prefix of every key, keeping deployments that share a Redis apart. */
  prefix: string;
  commandTimeoutMs: number;
  log?: Logger;
}

export class RedisLedger implements LedgerBackend {
  readonly name = 'redis' as const;
  private readonly script: RedisScript;

  constructor(private readonly opts: RedisLedgerOptions) {
    // As the rate limit counters (src/ratelimit/redis.ts): fail fast while Redis is away, reconnect in the background.
    this.script = new RedisScript({ ...opts, purpose: 'budget ledger', lua: APPLY });
  }

  async apply(op: LedgerOp, holdId: string, entries: readonly LedgerEntry[], holdTtlMs: number): Promise<LedgerResult> {
    const n = entries.length;
    const args: (string | number)[] = entries.map((e) => `${this.opts.prefix}${e.account}`);
    args.push(op, holdId, holdTtlMs);
    for (const e of entries) args.push(Math.round(e.limit), Math.round(e.amount), Math.round(e.min), e.seed === undefined ? '' : Math.round(e.seed));
    const reply = (await this.script.run(n, ...args)).map(Number);
    if (reply[0] === -1) return { kind: 'seed', indexes: reply.slice(1) };
    if (reply[0] === 0) return { kind: 'refused', index: reply[1], remaining: reply[2] };
    return { kind: 'ok', granted: reply.slice(1) };
  }

  /** Resolves once connected; rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    return this.script.ready(timeoutMs);
  }

  async close(): Promise<void> {
    this.script.close();
  }
}
