import type { DescriptorEntry } from '../ratelimit/descriptors';
import { RateLimitUnavailable, type RateLimiter } from '../ratelimit/limiter';
import { GatewayError } from '../domain/errors';
import type { McpCaller } from './policy';

/**
 * Tool calls per minute (hour, day) through the gateway's rate limiter: the same rules
 * (`rate_limits.rules`, with `tool_calls_per_*` limits and the `mcp_server` / `mcp_tool`
 * dimensions), counters (in process or Redis) and failure mode as Envoy's checks. Returns the
 * refusal to answer with, or undefined when the call may go on.
 */
export async function toolCallRefusal(limiter: RateLimiter, caller: McpCaller, server: string, qualifiedTool: string): Promise<GatewayError | undefined> {
  const entries: DescriptorEntry[] = [{ key: 'kind', value: 'tool_calls' }, { key: 'key', value: caller.id }];
  if (caller.user) entries.push({ key: 'user', value: caller.user });
  if (caller.team) entries.push({ key: 'team', value: caller.team });
  if (caller.identity) entries.push({ key: 'identity', value: caller.identity });
  entries.push({ key: 'mcp_server', value: server }, { key: 'mcp_tool', value: qualifiedTool });
  let r;
  try {
    r = await limiter.shouldRateLimit({ descriptors: [{ entries }] });
  } catch (err) {
    if (err instanceof RateLimitUnavailable) {
      return new GatewayError(503, 'rate_limit_unavailable', 'Rate limits cannot be checked right now. Please retry shortly.', { headers: { 'retry-after': '1' } });
    }
    throw err;
  }
  if (r.overall_code === 'OK') return undefined;
  const headers: Record<string, string> = {};
  for (const h of r.response_headers_to_add) if (h.key === 'retry-after' || h.key === 'retry-after-ms') headers[h.key] = h.value;
  let message = 'Rate limit reached for tool calls.';
  try {
    message = (JSON.parse(r.raw_body?.toString('utf8') ?? '{}') as { error?: { message?: string } }).error?.message ?? message;
  } catch {
    // the limiter's own body; the default message stands
  }
  return new GatewayError(429, 'rate_limit_exceeded', message, { headers });
}
