import type { ProviderTranslator, TranslationInput, UpstreamRequest } from '../types';
import { openAIUsage } from './usage';

const ENDPOINT_PATHS: Record<string, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  models: '/models',
};

/**
 * Any server speaking the OpenAI API (OpenAI itself, vLLM, Ollama, LM Studio...). Requests and
 * responses pass through; only the model id and the credential change.
 */
export const openAICompatibleTranslator: ProviderTranslator = {
  type: 'openai-compatible',

  request({ endpoint, body, target, provider, apiKey }: TranslationInput): UpstreamRequest {
    const headers: Record<string, string> = { ...provider.headers };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const out: UpstreamRequest = { path: provider.basePath + (ENDPOINT_PATHS[endpoint] ?? ''), headers };
    if (body && body.model !== target.model) out.body = { ...body, model: target.model };
    return out;
  },

  response: () => undefined,
  streamTranslator: () => undefined,
  usage: openAIUsage,
};
