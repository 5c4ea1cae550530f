import type { JsonValue } from '../../plugins/types';
import { openAIUsage } from '../openai-compatible/usage';
import type { ProviderTranslator, TranslationInput } from '../types';
import { cohereRequest } from './request';
import { chatResponse, clientStatus, embedResponse, errorResponse } from './response';
import { CohereStreamTranslator } from './stream';

/**
 * Cohere API v2: Chat (`POST {base}/chat`, SSE when `stream: true`) and Embed
 * (`POST {base}/embed`), `Authorization: Bearer`. Base URL: `https://api.cohere.com/v2`.
 */
export const translator: ProviderTranslator = {
  type: 'cohere',

  request: cohereRequest,

  response(body: JsonValue, status: number, input: TranslationInput): JsonValue | undefined {
    if (status >= 400) return errorResponse(body, status);
    if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
    if (input.endpoint === 'embeddings') return embedResponse(body, input) as unknown as JsonValue;
    if (input.endpoint === 'chat.completions') return chatResponse(body, input) as unknown as JsonValue;
    return undefined;
  },

  status: clientStatus,

  streamTranslator(input: TranslationInput) {
    return input.endpoint === 'chat.completions' ? new CohereStreamTranslator(input) : undefined;
  },

  /** The translated body is OpenAI-shaped by the time usage is read. */
  usage: openAIUsage,
};
