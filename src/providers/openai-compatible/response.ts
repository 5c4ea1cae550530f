import type { ProviderTranslator } from '../types';

/** OpenAI-compatible answers, errors included, are already OpenAI-shaped: nothing to translate. */
export const translateResponse: ProviderTranslator['response'] = () => undefined;
