import { errorTypeForStatus, type OpenAIErrorBody } from '../../domain/errors';
import type { JsonValue } from '../../domain';
import { assistantMessage, buildCompletion, embeddingList } from '../shared/completion';
import { asJson, isObj, nonEmpty, num, type Obj } from '../shared/json';
import type { ChatCompletion, EmbeddingsResponse, FinishReason, ToolCall, Usage } from '../shared/openai-types';
import type { TranslationInput } from '../types';

/** Cohere API v2 answers (chat, embed, errors) → OpenAI shapes. */

export function translateResponse(body: JsonValue, status: number, input: TranslationInput): JsonValue | undefined {
  if (status >= 400) return errorResponse(body, status);
  if (!isObj(body)) return undefined;
  if (input.endpoint === 'embeddings') return asJson(embedResponse(body, input));
  if (input.endpoint === 'chat.completions') return asJson(chatResponse(body, input));
  return undefined;
}

const FINISH: Record<string, FinishReason> = {
  COMPLETE: 'stop',
  STOP_SEQUENCE: 'stop',
  USER_CANCEL: 'stop',
  ERROR: 'stop',
  MAX_TOKENS: 'length',
  ERROR_LIMIT: 'length',
  TOOL_CALL: 'tool_calls',
  ERROR_TOXIC: 'content_filter',
};

export function finishReason(reason: unknown, hasToolCalls = false): FinishReason {
  const mapped = typeof reason === 'string' ? FINISH[reason.toUpperCase()] : undefined;
  return mapped ?? (hasToolCalls ? 'tool_calls' : 'stop');
}

/**
 * Cohere's `usage` (`{billed_units, tokens, cached_tokens?}`) → OpenAI usage. `tokens` counts
 * what the model saw; `billed_units` is the fallback when a deployment reports only that.
 */
export function toOpenAIUsage(usage: unknown): Usage | undefined {
  if (!isObj(usage)) return undefined;
  const tokens = isObj(usage.tokens) ? usage.tokens : {};
  const billed = isObj(usage.billed_units) ? usage.billed_units : {};
  const prompt = num(tokens.input_tokens) ?? num(billed.input_tokens);
  const completion = num(tokens.output_tokens) ?? num(billed.output_tokens);
  if (prompt === undefined && completion === undefined) return undefined;
  const out: Usage = { prompt_tokens: prompt ?? 0, completion_tokens: completion ?? 0, total_tokens: (prompt ?? 0) + (completion ?? 0) };
  const cached = num(usage.cached_tokens);
  if (cached !== undefined) out.prompt_tokens_details = { cached_tokens: cached };
  return out;
}

/** Text content of a Cohere assistant message; thinking items are not part of the answer. */
function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((c) => (isObj(c) && c.type === 'text' && typeof c.text === 'string' ? c.text : '')).join('');
}

function toolCalls(calls: unknown): ToolCall[] {
  if (!Array.isArray(calls)) return [];
  return calls.filter(isObj).map((c, i) => {
    const fn = isObj(c.function) ? c.function : {};
    const args = fn.arguments;
    return {
      id: typeof c.id === 'string' && c.id ? c.id : `call_${i}`,
      type: 'function',
      function: {
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: typeof args === 'string' ? args : args === undefined ? '{}' : JSON.stringify(args),
      },
    };
  });
}

function chatResponse(body: Obj, input: TranslationInput): ChatCompletion {
  const msg = isObj(body.message) ? body.message : {};
  const calls = toolCalls(msg.tool_calls);
  const content = text(msg.content);
  const choice = { index: 0, message: assistantMessage(content, calls), logprobs: null, finish_reason: finishReason(body.finish_reason, calls.length > 0) };
  const model = typeof body.model === 'string' ? body.model : input.target.model;
  return buildCompletion(nonEmpty(body.id), model, [choice], toOpenAIUsage(body.usage));
}

function embedResponse(body: Obj, input: TranslationInput): EmbeddingsResponse {
  const wantBase64 = isObj(input.body) && input.body.encoding_format === 'base64';
  const byType = isObj(body.embeddings) ? body.embeddings.float : body.embeddings;
  const vectors = Array.isArray(byType) ? (byType as number[][]) : [];
  const billed = isObj(body.meta) && isObj(body.meta.billed_units) ? body.meta.billed_units : {};
  const prompt = num(billed.input_tokens) ?? 0;
  return embeddingList(vectors, input.target.model, wantBase64, { prompt_tokens: prompt, total_tokens: prompt });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Cohere's non-standard statuses: 498 invalid token, 499 request cancelled. */
export function clientStatus(status: number): number {
  if (status === 498) return 401;
  if (status === 499) return 408;
  return status;
}

const CODES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_api_key',
  402: 'insufficient_quota',
  403: 'permission_denied',
  404: 'not_found',
  408: 'request_cancelled',
  413: 'request_too_large',
  422: 'invalid_request_error',
  429: 'rate_limit_exceeded',
  500: 'server_error',
  501: 'not_implemented',
  503: 'service_unavailable',
  504: 'timeout',
};

export function errorFor(status: number, message: string): OpenAIErrorBody {
  const s = clientStatus(status);
  let code = CODES[s] ?? (s >= 500 ? 'server_error' : 'invalid_request_error');
  if (s === 404 && /model/i.test(message)) code = 'model_not_found';
  let type: string = errorTypeForStatus(s);
  if (s === 402) type = 'insufficient_quota';
  return { error: { message, type, param: null, code } };
}

/** A Cohere error body (`{"id"?, "message"}`) → the OpenAI error shape. */
function errorResponse(body: JsonValue, status: number): JsonValue {
  if (isObj(body) && isObj(body.error) && typeof body.error.message === 'string') return body; // already OpenAI-shaped
  let message = `Cohere returned HTTP ${status}.`;
  if (isObj(body) && typeof body.message === 'string' && body.message) message = body.message;
  else if (typeof body === 'string' && body) message = body;
  return asJson(errorFor(status, message));
}
