import { openAIUsage } from '../shared/usage';
import type { ProviderTranslator } from '../types';
import { buildRequest } from './request';
import { translateResponse } from './response';
import { streamTranslator } from './stream';

/**
 * Google's Gemini API (generativelanguage.googleapis.com/v1beta): generateContent,
 * streamGenerateContent (SSE) and batchEmbedContents, authenticated with `x-goog-api-key`.
 */
export const translator: ProviderTranslator = {
  type: 'google',
  request: buildRequest,
  response: translateResponse,
  streamTranslator,
  usage: openAIUsage,
};

export const aliases: readonly string[] = ['gemini'];
