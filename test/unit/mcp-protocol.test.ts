import { GatewayError } from '../../src/domain/errors';
import { handlerError, jsonRpcCode, jsonRpcErrorBody } from '../../src/mcp/errors';
import { mergedCapabilities } from '../../src/mcp/session';
import { toolCallRefusal } from '../../src/mcp/ratelimit';
import { compileRules, rateLimitProblems, type RateLimitsConfig } from '../../src/ratelimit/config';
import { MemoryCounters } from '../../src/ratelimit/counters';
import { RateLimiter } from '../../src/ratelimit/limiter';
import type { McpServerSpec } from '../../src/mcp/servers';

const log = { warn() {}, info() {}, error() {}, debug() {}, child() { return log; } } as never;

describe('MCP errors as JSON-RPC', () => {
  test('codes follow the status; data carries the catalogue code', () => {
    expect(jsonRpcCode(403)).toBe(-32003);
    expect(jsonRpcCode(429)).toBe(-32029);
    expect(jsonRpcCode(502)).toBe(-32052);
    expect(jsonRpcCode(418)).toBe(-32603);
    const err = new GatewayError(403, 'mcp_tool_not_allowed', 'no');
    expect(jsonRpcErrorBody(err, 7)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32003, message: 'no', data: { code: 'mcp_tool_not_allowed', status: 403 } } });
    // What the SDK sends for a thrown error: its own code, message and data, not an McpError's prefixed message.
    expect(handlerError(err)).toMatchObject({ code: -32003, message: 'no', data: { code: 'mcp_tool_not_allowed' } });
  });
});

describe('merged capabilities', () => {
  const spec = (name: string) => ({ name }) as McpServerSpec;
  test('tools always; prompts and resources when a usable server has them, or is not known yet', () => {
    expect(mergedCapabilities([], new Map())).toEqual({ tools: { listChanged: true }, logging: {} });
    expect(mergedCapabilities([spec('a')], new Map())).toMatchObject({ prompts: {}, resources: {} });
    const known = new Map([['a', { tools: {} }], ['b', { tools: {}, prompts: {} }]]);
    expect(mergedCapabilities([spec('a')], known)).toEqual({ tools: { listChanged: true }, logging: {} });
    expect(mergedCapabilities([spec('a'), spec('b')], known)).toEqual({ tools: { listChanged: true }, logging: {}, prompts: { listChanged: true } });
  });
});

describe('tool calls per minute through the rate limiter', () => {
  const rules = [{ name: 'per-tool', match: { key: '*', mcp_tool: 'weather__forecast' }, tool_calls_per_minute: 2 }];
  test('the mcp_server / mcp_tool dimensions and tool_calls_per_* limits are valid rules', () => {
    expect(rateLimitProblems({ rules } as unknown as RateLimitsConfig)).toEqual([]);
    expect(rateLimitProblems({ rules: [{ name: 'x', match: {}, tool_calls_per_minute: 1, tool_calls_per_day: 2 }] } as unknown as RateLimitsConfig)[0]).toContain('not several');
    expect(compileRules(rules as never)).toEqual([expect.objectContaining({ kind: 'tool_calls', limit: 2, windowMs: 60_000 })]);
  });

  test('counted per call; the third is refused with 429, retry-after and a message naming the rule; other tools and keys are not', async () => {
    const limiter = new RateLimiter({ limits: compileRules(rules as never), backend: new MemoryCounters(), failureMode: 'fail_open', log });
    const caller = { id: 'k1', kind: 'api_key' as const };
    expect(await toolCallRefusal(limiter, caller, 'weather', 'weather__forecast')).toBeUndefined();
    expect(await toolCallRefusal(limiter, caller, 'weather', 'weather__forecast')).toBeUndefined();
    const refused = await toolCallRefusal(limiter, caller, 'weather', 'weather__forecast');
    expect(refused).toMatchObject({ status: 429, code: 'rate_limit_exceeded', message: expect.stringContaining('tool calls (per-tool: limit 2 tool calls per minute') });
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);
    expect(await toolCallRefusal(limiter, caller, 'weather', 'weather__alerts')).toBeUndefined();
    expect(await toolCallRefusal(limiter, { id: 'k2', kind: 'api_key' }, 'weather', 'weather__forecast')).toBeUndefined();
  });

  test('LLM request limits do not count tool calls', async () => {
    const limiter = new RateLimiter({ limits: compileRules([{ name: 'rpm', match: { key: '*' }, requests_per_minute: 1 }] as never), backend: new MemoryCounters(), failureMode: 'fail_open', log });
    for (let i = 0; i < 3; i++) expect(await toolCallRefusal(limiter, { id: 'k', kind: 'api_key' }, 's', 's__t')).toBeUndefined();
  });
});
