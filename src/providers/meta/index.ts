import type { ProviderTranslator } from '../types';
import { translator as openAICompatible } from '../openai-compatible';

/**
 * Meta's Llama API, through its OpenAI-compatible endpoint (base URL
 * `https://api.llama.com/compat/v1`, `Authorization: Bearer`): the OpenAI translator as is.
 */
export const translator: ProviderTranslator = { ...openAICompatible, type: 'meta' };

export const aliases: readonly string[] = ['llama'];
