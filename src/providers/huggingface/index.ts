import { openAICompatibleTranslator } from '../openai-compatible/translator';

/**
 * Hugging Face's inference router (`https://router.huggingface.co/v1`, `Authorization: Bearer
 * hf_…`), which speaks the OpenAI chat API for the models it routes (`org/model[:provider]`).
 */
export const translator = { ...openAICompatibleTranslator, type: 'huggingface' };
export const aliases = ['hf'];
