import { openAIUsage } from '../openai-compatible/usage';
import type { ProviderTranslator } from '../types';
import { buildRequest } from './request';
import { translateResponse } from './response';
import { AnthropicStreamTranslator } from './stream';

/**
 * Anthropic's Messages API (POST {base}/messages, `x-api-key` + `anthropic-version`): OpenAI chat
 * completions in, native messages out, and back. Anthropic has no embeddings endpoint.
 */
export const translator: ProviderTranslator = {
  type: 'anthropic',
  request: buildRequest,
  response: translateResponse,
  /** 529 overloaded has no meaning to OpenAI clients: it becomes 503 Service Unavailable. */
  status: (status) => (status === 529 ? 503 : status),
  streamTranslator: (input) => (input.endpoint === 'chat.completions' ? new AnthropicStreamTranslator(input) : undefined),
  usage: openAIUsage,
};
