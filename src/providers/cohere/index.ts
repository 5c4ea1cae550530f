import { openAIUsage } from '../shared/usage';
import type { ProviderTranslator } from '../types';
import { buildRequest } from './request';
import { clientStatus, translateResponse } from './response';
import { streamTranslator } from './stream';

/**
 * Cohere API v2: Chat (`POST {base}/chat`, SSE when `stream: true`) and Embed
 * (`POST {base}/embed`), `Authorization: Bearer`. Base URL: `https://api.cohere.com/v2`.
 */
export const translator: ProviderTranslator = {
  type: 'cohere',
  request: buildRequest,
  response: translateResponse,
  status: clientStatus,
  streamTranslator,
  usage: openAIUsage,
};

export const aliases: readonly string[] = [];
