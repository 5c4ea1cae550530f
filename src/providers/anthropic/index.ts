import { openAIUsage } from '../shared/usage';
import type { ProviderTranslator } from '../types';
import { buildRequest } from './request';
import { clientStatus, translateResponse } from './response';
import { streamTranslator } from './stream';

/**
 * Anthropic's Messages API (POST {base}/messages, `x-api-key` + `anthropic-version`): OpenAI chat
 * completions in, native messages out, and back. Anthropic has no embeddings endpoint.
 */
export const translator: ProviderTranslator = {
  type: 'anthropic',
  request: buildRequest,
  response: translateResponse,
  status: clientStatus,
  streamTranslator,
  usage: openAIUsage,
};

export const aliases: readonly string[] = [];
