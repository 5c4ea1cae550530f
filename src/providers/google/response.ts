import type { JsonObject, JsonValue } from '../../domain';
import { ownValue } from '../../domain/own';
import { assistantMessage, buildCompletion, embeddingList } from '../shared/completion';
import { asJson, isObj, numOrZero, type Obj } from '../shared/json';
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../shared/openai-types';
import type { TranslationInput } from '../types';
import { toolCallId, type GeminiCandidate, type GeminiError, type GeminiPart, type GeminiResponse, type GeminiUsage } from './native';

/** Buffered Gemini responses (generateContent, batchEmbedContents, errors) → OpenAI JSON. */
export function translateResponse(body: JsonValue, status: number, input: TranslationInput): JsonValue | undefined {
  if (status >= 400 || geminiError(body)) return errorJson(body, status >= 400 ? status : 500);
  if (!isObj(body)) return undefined;
  if (input.endpoint === 'embeddings') return embeddingsResponse(body, input);
  if (input.endpoint === 'chat.completions') return asJson(chatCompletion(body as GeminiResponse, input.target.model));
  return undefined;
}

/** The visible text of a candidate (thought summaries are left out). */
export const textOf = (parts: GeminiPart[]): string =>
  parts
    .filter((p) => typeof p.text === 'string' && !p.thought)
    .map((p) => p.text)
    .join('');

export function chatCompletion(res: GeminiResponse, targetModel: string): ChatCompletion {
  const candidates: GeminiCandidate[] = res.candidates?.length ? res.candidates : [{ index: 0, finishReason: res.promptFeedback?.blockReason ? 'SAFETY' : 'STOP' }];
  const choices = candidates.map((c, i) => {
    const parts = c.content?.parts ?? [];
    const toolCalls = parts.filter((p) => p.functionCall).map(toOpenAIToolCall);
    return { index: c.index ?? i, message: assistantMessage(textOf(parts), toolCalls), logprobs: null, finish_reason: finishReason(c.finishReason, toolCalls.length > 0) };
  });
  return buildCompletion(res.responseId || undefined, res.modelVersion || targetModel, choices, res.usageMetadata ? toOpenAIUsage(res.usageMetadata) : undefined);
}

function embeddingsResponse(body: Obj, input: TranslationInput): JsonValue {
  const base64 = input.body?.encoding_format === 'base64';
  const list: unknown[] = Array.isArray(body.embeddings) ? body.embeddings : isObj(body.embedding) ? [body.embedding] : [];
  const vectors = list.map((e) => (isObj(e) && Array.isArray(e.values) ? (e.values as number[]) : []));
  // batchEmbedContents reports no token counts.
  let usage = { prompt_tokens: 0, total_tokens: 0 };
  const meta = body.usageMetadata;
  if (isObj(meta) && typeof meta.promptTokenCount === 'number') {
    usage = { prompt_tokens: meta.promptTokenCount, total_tokens: typeof meta.totalTokenCount === 'number' ? meta.totalTokenCount : meta.promptTokenCount };
  }
  return asJson(embeddingList(vectors, input.target.model, base64, usage));
}

// ---------------------------------------------------------------------------------------------
// Vocabulary the stream translator shares: tool calls, finish reasons, usage, errors

export function toOpenAIToolCall(part: GeminiPart): ToolCall {
  const call = part.functionCall!;
  return {
    id: toolCallId(call, part.thoughtSignature),
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  };
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

/** Gemini finishReason → OpenAI finish_reason. STOP with function calls is `tool_calls`. */
export function finishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason && FILTERED.has(reason)) return 'content_filter';
  if (hasToolCalls) return 'tool_calls';
  return 'stop';
}

/** usageMetadata → OpenAI usage. Thinking tokens count as completion (reasoning) tokens. */
export function toOpenAIUsage(u: GeminiUsage): Usage {
  const prompt = numOrZero(u.promptTokenCount) + numOrZero(u.toolUsePromptTokenCount);
  const thoughts = numOrZero(u.thoughtsTokenCount);
  const completion = numOrZero(u.candidatesTokenCount) + thoughts;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: numOrZero(u.totalTokenCount) || prompt + completion };
  if (u.cachedContentTokenCount !== undefined) usage.prompt_tokens_details = { cached_tokens: numOrZero(u.cachedContentTokenCount) };
  if (u.thoughtsTokenCount !== undefined) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  return usage;
}

/** Google's canonical error status → OpenAI error type and code. */
const ERRORS: Record<string, [type: string, code: string]> = {
  INVALID_ARGUMENT: ['invalid_request_error', 'invalid_argument'],
  FAILED_PRECONDITION: ['invalid_request_error', 'failed_precondition'],
  OUT_OF_RANGE: ['invalid_request_error', 'out_of_range'],
  UNAUTHENTICATED: ['authentication_error', 'invalid_api_key'],
  PERMISSION_DENIED: ['permission_error', 'permission_denied'],
  NOT_FOUND: ['not_found_error', 'not_found'],
  RESOURCE_EXHAUSTED: ['rate_limit_error', 'rate_limit_exceeded'],
  CANCELLED: ['server_error', 'cancelled'],
  INTERNAL: ['server_error', 'internal_error'],
  UNAVAILABLE: ['server_error', 'service_unavailable'],
  DEADLINE_EXCEEDED: ['server_error', 'timeout'],
  UNIMPLEMENTED: ['invalid_request_error', 'unsupported'],
};

const BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Reads `{error:{code,message,status}}` (or the `[{error}]` array form). */
export function geminiError(body: unknown): GeminiError['error'] | undefined {
  const b = Array.isArray(body) ? body[0] : body;
  return isObj(b) && isObj(b.error) ? (b.error as GeminiError['error']) : undefined;
}

/** The OpenAI error object for a Gemini error body (or any body) and HTTP status. */
export function openAIError(body: unknown, httpStatus: number): { message: string; type: string; param: null; code: string } {
  const err = geminiError(body);
  const status = err?.status ?? BY_HTTP[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
  // The status is the provider's word: only the table's own entries (never `constructor`).
  let [type, code] = ownValue(ERRORS, status) ?? (httpStatus >= 500 ? ['server_error', 'server_error'] : ['invalid_request_error', status.toLowerCase()]);
  // A wrong key is a 400 INVALID_ARGUMENT whose ErrorInfo reason is API_KEY_INVALID.
  if (err?.details?.some((d) => isObj(d) && d.reason === 'API_KEY_INVALID')) [type, code] = ['authentication_error', 'invalid_api_key'];
  const message = err?.message || (typeof body === 'string' && body) || `Upstream provider returned HTTP ${httpStatus}.`;
  return { message, type, param: null, code };
}

export const errorJson = (body: unknown, status: number): JsonObject => ({ error: openAIError(body, status) as unknown as JsonObject });
