import { randomBytes } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../plugins/types';
import { ownValue } from '../../util/own';
import type { FinishReason, ToolCall, Usage } from '../openai-types';

/** Gemini API (generativelanguage v1beta) wire shapes, as far as the translator reads them. */

export type Obj = Record<string, unknown>;

export interface GeminiFunctionCall {
  id?: string;
  name: string;
  args?: Obj;
}

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: { id?: string; name: string; response: Obj };
  [k: string]: unknown;
}

export interface GeminiContent {
  role?: 'user' | 'model';
  parts?: GeminiPart[];
}

export interface GeminiCandidate {
  index?: number;
  content?: GeminiContent;
  finishReason?: string;
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
}

export interface GeminiError {
  error: { code?: number; message?: string; status?: string; details?: Obj[] };
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Gemini function calls carry no id (or an optional one). The gateway makes one, and carries the
 * call's thought signature inside it so that it comes back with the assistant turn: Gemini's
 * thinking models reject a replayed function call whose signature is missing.
 */
const SIGNATURE_SEP = '__thought__';

export function toolCallId(call: GeminiFunctionCall, signature?: string): string {
  const base = call.id || `call_${randomBytes(12).toString('hex')}`;
  return signature ? `${base}${SIGNATURE_SEP}${signature}` : base;
}

/** The thought signature a tool-call id carries, if any. */
export function signatureOf(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const at = id.indexOf(SIGNATURE_SEP);
  return at < 0 ? undefined : id.slice(at + SIGNATURE_SEP.length) || undefined;
}

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
  const prompt = num(u.promptTokenCount) + num(u.toolUsePromptTokenCount);
  const thoughts = num(u.thoughtsTokenCount);
  const completion = num(u.candidatesTokenCount) + thoughts;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: num(u.totalTokenCount) || prompt + completion };
  if (u.cachedContentTokenCount !== undefined) usage.prompt_tokens_details = { cached_tokens: num(u.cachedContentTokenCount) };
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

export function asJson<T>(v: T): JsonValue {
  return v as unknown as JsonValue;
}
