import type { JsonObject, JsonValue } from '../../domain';
import { int, isObj, mintId, parseObject, str, type Obj } from '../json';
import type { SurfaceReplyContext } from '../types';

/** OpenAI `finish_reason` → Anthropic `stop_reason`. */
export function stopReason(finish: JsonValue | undefined): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/**
 * OpenAI usage → Anthropic's: OpenAI's prompt count includes cached tokens, Anthropic's
 * `input_tokens` does not (cache reads are `cache_read_input_tokens`; cache writes are not
 * reported by OpenAI-shaped providers, so 0).
 */
export function messagesUsage(u: JsonValue | undefined): Obj {
  const usage = isObj(u) ? u : {};
  const cached = isObj(usage.prompt_tokens_details) ? int(usage.prompt_tokens_details.cached_tokens) : 0;
  const prompt = int(usage.prompt_tokens);
  return {
    input_tokens: Math.max(0, prompt - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: int(usage.completion_tokens),
  };
}

/** `chatcmpl-abc` → `msg_abc`: the answer's id follows the provider's; minted when there is none. */
export function messageId(id: JsonValue | undefined): string {
  const s = str(id);
  return s ? `msg_${s.replace(/^chatcmpl-/, '')}` : mintId('msg_');
}

/** A chat completion → an Anthropic message. */
export function messageResponse(body: JsonValue, ctx: SurfaceReplyContext): JsonValue {
  if (!isObj(body) || !Array.isArray(body.choices)) return body;
  const choice = body.choices.find(isObj) ?? {};
  const msg = isObj(choice.message) ? choice.message : {};
  const content: Obj[] = [];
  const text = str(msg.content);
  if (text) content.push({ type: 'text', text });
  for (const call of Array.isArray(msg.tool_calls) ? msg.tool_calls : []) {
    if (!isObj(call) || !isObj(call.function)) continue;
    content.push({ type: 'tool_use', id: str(call.id) ?? mintId('toolu_'), name: str(call.function.name) ?? '', input: parseObject(str(call.function.arguments)) });
  }
  return {
    id: messageId(body.id),
    type: 'message',
    role: 'assistant',
    model: ctx.requestedModel ?? str(body.model) ?? '',
    content,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: messagesUsage(body.usage),
  };
}

/** HTTP status → Anthropic's error `type` (docs: "HTTP errors"). */
function errorTypeFor(status: number, code: string | undefined): string {
  if (code === 'overloaded' || status === 529) return 'overloaded_error';
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** OpenAI's error `type` (what a stream's error event carries, no status) → Anthropic's. */
function errorTypeForOpenAIType(type: string | undefined, code: string | undefined): string {
  if (code === 'overloaded') return 'overloaded_error';
  switch (type) {
    case 'authentication_error':
    case 'permission_error':
    case 'not_found_error':
    case 'rate_limit_error':
    case 'invalid_request_error':
      return type;
    case 'insufficient_quota':
      return 'rate_limit_error';
    default:
      return 'api_error';
  }
}

/**
 * Any error answer → Anthropic's `{"type":"error","error":{"type","message"}}`. An Anthropic
 * error (a native attempt's) stays as it is; OpenAI's `{"error":{...}}` keeps its message (the
 * gateway's code is in it only as text); anything else gets a message naming the status.
 */
export function messagesError(status: number | undefined, body: JsonValue): JsonObject {
  if (isObj(body) && body.type === 'error' && isObj(body.error) && typeof body.error.type === 'string') return body;
  const err = isObj(body) && isObj(body.error) ? body.error : undefined;
  const code = str(err?.code ?? undefined);
  const message = str(err?.message) ?? (typeof body === 'string' && body ? body : `The gateway answered with HTTP ${status ?? 500}.`);
  const type = status === undefined ? errorTypeForOpenAIType(str(err?.type), code) : errorTypeFor(status, code);
  return { type: 'error', error: { type, message } };
}
