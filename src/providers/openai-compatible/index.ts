import { openAIUsage } from '../shared/usage';
import type { ProviderTranslator } from '../types';
import { buildRequest } from './request';
import { translateResponse } from './response';
import { streamTranslator } from './stream';

/**
 * OpenAI itself, and any server speaking its API (vLLM, Ollama, LM Studio, Azure-style gateways).
 * Requests and responses pass through; only the model id and the credential change.
 */
export const translator: ProviderTranslator = {
  type: 'openai-compatible',
  request: buildRequest,
  response: translateResponse,
  streamTranslator,
  usage: openAIUsage,
};

export const aliases: readonly string[] = ['openai'];
