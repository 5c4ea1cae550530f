import type { ProviderTranslator } from '../types';
import { translator as openAICompatible } from '../openai-compatible';

/**
 * Hugging Face's inference router (`https://router.huggingface.co/v1`, `Authorization: Bearer
 * hf_…`), which speaks the OpenAI chat API for the models it routes (`org/model[:provider]`).
 */
export const translator: ProviderTranslator = { ...openAICompatible, type: 'huggingface' };

export const aliases: readonly string[] = ['hf'];
