import { openAIUsage } from '../openai-compatible/usage';
import type { ProviderTranslator, TranslationInput } from '../types';
import { buildRequest } from './request';
import { translateResponse } from './response';
import { GeminiStreamTranslator } from './stream';

/**
 * Google's Gemini API (generativelanguage.googleapis.com/v1beta): generateContent,
 * streamGenerateContent (SSE) and batchEmbedContents, authenticated with `x-goog-api-key`.
 */
export const translator: ProviderTranslator = {
  type: 'google',
  request: buildRequest,
  response: translateResponse,
  streamTranslator(input: TranslationInput) {
    if (input.endpoint !== 'chat.completions') return undefined;
    const so = input.body?.stream_options;
    const includeUsage = Boolean(so && typeof so === 'object' && !Array.isArray(so) && so.include_usage === true);
    return new GeminiStreamTranslator(input.target.model, includeUsage);
  },
  usage: openAIUsage,
};

export const aliases = ['gemini'];
