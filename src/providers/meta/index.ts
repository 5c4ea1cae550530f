import { openAICompatibleTranslator } from '../openai-compatible/translator';

/**
 * Meta's Llama API, through its OpenAI-compatible endpoint (base URL
 * `https://api.llama.com/compat/v1`, `Authorization: Bearer`): the OpenAI translator as is.
 */
export const translator = { ...openAICompatibleTranslator, type: 'meta' };
export const aliases = ['llama'];
