import type { AuditEvent, ExchangeOutcome, UsageRecord } from '../domain';
import type { McpCaller } from './policy';

/** The facts of one tool call, for its usage record and its audit record. */
export interface ToolCallFacts {
  id: string;
  requestId: string | null;
  caller: McpCaller;
  server: string;
  /** The upstream tool name. */
  tool: string;
  startedAt: number;
  durationMs: number;
  /** 200 when the server answered (its result may still say isError), else the refusal's status. */
  status: number;
  /** `completed`: the server answered; `responded`: the gateway refused; `failed`: the server failed. */
  outcome: ExchangeOutcome;
  /** The gateway's error code when it did not complete. */
  error?: string;
  /** The server's result said isError. */
  toolError?: boolean;
}

/**
 * A tool call as a usage record: `endpoint` `mcp`, `api` `tools/call`, the server as the
 * provider and `<server>/<tool>` as the model, so /v1/usage groups by server (group_by=provider)
 * and by tool (group_by=model) with no new columns. No tokens, no cost.
 */
export function toolCallUsage(f: ToolCallFacts): UsageRecord {
  return {
    id: f.id,
    requestId: f.requestId,
    time: f.startedAt,
    keyId: f.caller.id,
    user: f.caller.user ?? null,
    team: f.caller.team ?? null,
    tier: f.caller.tier ?? null,
    endpoint: 'mcp',
    api: 'tools/call',
    provider: f.server,
    modelRequested: `${f.server}/${f.tool}`,
    modelServed: f.status === 200 ? `${f.server}/${f.tool}` : null,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    durationMs: f.durationMs,
    ttftMs: null,
    status: f.status,
    streamed: false,
    outcome: f.outcome,
  };
}

export function toolCallAudit(f: ToolCallFacts): AuditEvent {
  const c = f.caller;
  return {
    action: 'mcp.tool_called',
    outcome: f.outcome === 'completed' ? 'success' : f.status === 403 || f.status === 429 || f.status === 400 ? 'denied' : 'failure',
    target: `${f.server}/${f.tool}`,
    requestId: f.requestId ?? undefined,
    actor: { ...(c.kind === 'api_key' ? { keyId: c.id } : { identity: c.identity ?? c.id }), ...(c.team ? { team: c.team } : {}) },
    details: {
      exchange_id: f.id,
      mcp_server: f.server,
      mcp_tool: f.tool,
      status: f.status,
      duration_ms: Math.round(f.durationMs),
      ...(f.error ? { error: f.error } : {}),
      ...(f.toolError ? { tool_error: true } : {}),
    },
  };
}
