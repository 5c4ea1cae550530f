import { errorTypeForStatus, type OpenAIErrorBody } from '../../domain/errors';
import type { JsonValue } from '../../domain';
import { assistantMessage, buildCompletion } from '../shared/completion';
import { asJson, isObj, nonEmpty, numOrZero } from '../shared/json';
import type { FinishReason, ToolCall, Usage } from '../shared/openai-types';
import type { TranslationInput } from '../types';
import type { NativeMessageResponse, NativeUsage } from './native';
import { jsonSchemaToolName } from './request';

/** 529 overloaded has no meaning to OpenAI clients: it becomes 503 Service Unavailable. */
export const clientStatus = (status: number): number => (status === 529 ? 503 : status);

/** Anthropic `stop_reason` → OpenAI `finish_reason`. */
export function finishReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/**
 * Anthropic usage → OpenAI usage. Anthropic's `input_tokens` excludes cache reads and cache
 * writes, so the prompt total is the sum of the three; cache reads are OpenAI's cached tokens.
 */
export function toOpenAIUsage(u: NativeUsage | undefined): Usage {
  const cacheRead = numOrZero(u?.cache_read_input_tokens);
  const prompt = numOrZero(u?.input_tokens) + cacheRead + numOrZero(u?.cache_creation_input_tokens);
  const completion = numOrZero(u?.output_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cacheRead } };
}

/** Native error type → the OpenAI `type` and `code` the SDKs key their exceptions on. */
const ERRORS: Record<string, { type: string; code: string }> = {
  invalid_request_error: { type: 'invalid_request_error', code: 'invalid_request_error' },
  authentication_error: { type: 'authentication_error', code: 'invalid_api_key' },
  billing_error: { type: 'invalid_request_error', code: 'billing_error' },
  permission_error: { type: 'permission_error', code: 'permission_denied' },
  not_found_error: { type: 'not_found_error', code: 'not_found' },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { type: 'server_error', code: 'server_error' },
  timeout_error: { type: 'server_error', code: 'timeout' },
  overloaded_error: { type: 'server_error', code: 'overloaded' },
};

const CODE_FOR_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_api_key',
  403: 'permission_denied',
  404: 'not_found',
  413: 'request_too_large',
  429: 'rate_limit_exceeded',
  529: 'overloaded',
};

/** An Anthropic error (`{type:"error", error:{type, message}}`) in OpenAI's shape. */
export function toOpenAIError(nativeType: string | undefined, message: string, status?: number): OpenAIErrorBody {
  const known = nativeType ? ERRORS[nativeType] : undefined;
  const st = status ?? 500;
  const type = known?.type ?? errorTypeForStatus(st);
  const code = known?.code ?? CODE_FOR_STATUS[st] ?? (st >= 500 ? 'server_error' : nativeType ?? null);
  return { error: { message, type, param: null, code } };
}

function errorResponse(body: JsonValue, status: number): JsonValue | undefined {
  const b = isObj(body) ? body : {};
  const err = isObj(b.error) ? b.error : undefined;
  // Already OpenAI-shaped (a gateway or proxy in between answered): leave it.
  if (b.type !== 'error' && err && ('code' in err || 'param' in err)) return undefined;
  const message = typeof err?.message === 'string' ? err.message : `The provider answered with HTTP ${status}.`;
  return asJson(toOpenAIError(typeof err?.type === 'string' ? err.type : undefined, message, status));
}

/** A native Messages response (or error) → an OpenAI chat completion (or error). */
export function translateResponse(body: JsonValue, status: number, input: TranslationInput): JsonValue | undefined {
  if (status >= 400) return errorResponse(body, status);
  if (!isObj(body)) return undefined;
  const msg = body as NativeMessageResponse;
  if (input.endpoint !== 'chat.completions' || !Array.isArray(msg.content)) return undefined;

  const jsonTool = jsonSchemaToolName(input.body);
  let text = '';
  let json: string | undefined;
  const toolCalls: ToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text' && 'text' in block) text += block.text;
    else if (block.type === 'tool_use' && 'input' in block) {
      if (jsonTool !== undefined && block.name === jsonTool) json = JSON.stringify(block.input ?? {});
      else toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  let finish = finishReason(msg.stop_reason);
  // The structured answer came through the synthetic tool: that is the content, and a normal stop.
  if (json !== undefined) {
    text = json;
    if (finish === 'tool_calls' && !toolCalls.length) finish = 'stop';
  }
  const choice = { index: 0, message: assistantMessage(text, toolCalls), logprobs: null, finish_reason: finish };
  return asJson(buildCompletion(nonEmpty(msg.id), nonEmpty(msg.model) ?? input.target.model, [choice], toOpenAIUsage(msg.usage)));
}
