import type { JsonValue } from '../../plugins/types';
import type { ChatCompletion, EmbeddingsResponse } from '../openai-types';
import { completionId } from '../stream';
import type { TranslationInput } from '../types';
import {
  asJson,
  errorJson,
  finishReason,
  geminiError,
  isObj,
  toOpenAIToolCall,
  toOpenAIUsage,
  type GeminiCandidate,
  type GeminiPart,
  type GeminiResponse,
} from './common';

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
  const out: ChatCompletion = {
    id: res.responseId || completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: res.modelVersion || targetModel,
    choices: candidates.map((c, i) => {
      const parts = c.content?.parts ?? [];
      const text = textOf(parts);
      const toolCalls = parts.filter((p) => p.functionCall).map(toOpenAIToolCall);
      const message: ChatCompletion['choices'][number]['message'] = {
        role: 'assistant',
        content: text || (toolCalls.length ? null : ''),
        refusal: null,
      };
      if (toolCalls.length) message.tool_calls = toolCalls;
      return { index: c.index ?? i, message, logprobs: null, finish_reason: finishReason(c.finishReason, toolCalls.length > 0) };
    }),
  };
  if (res.usageMetadata) out.usage = toOpenAIUsage(res.usageMetadata);
  return out;
}

function embeddingsResponse(body: Record<string, unknown>, input: TranslationInput): JsonValue {
  const base64 = input.body?.encoding_format === 'base64';
  const list = Array.isArray(body.embeddings) ? body.embeddings : isObj(body.embedding) ? [body.embedding] : [];
  const out: EmbeddingsResponse = {
    object: 'list',
    data: list.map((e, index) => {
      const values = isObj(e) && Array.isArray(e.values) ? (e.values as number[]) : [];
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values };
    }),
    model: input.target.model,
    // batchEmbedContents reports no token counts.
    usage: { prompt_tokens: 0, total_tokens: 0 },
  };
  const meta = body.usageMetadata;
  if (isObj(meta) && typeof meta.promptTokenCount === 'number') {
    out.usage = { prompt_tokens: meta.promptTokenCount, total_tokens: typeof meta.totalTokenCount === 'number' ? meta.totalTokenCount : meta.promptTokenCount };
  }
  return asJson(out);
}
