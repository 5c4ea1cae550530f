import { randomBytes } from 'node:crypto';
import type { Obj } from '../shared/json';

/**
 * Gemini API (generativelanguage v1beta) wire shapes, as far as the translator reads them, and
 * the gateway's encoding of Gemini function calls in OpenAI tool-call ids.
 */

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
