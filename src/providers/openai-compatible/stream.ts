import type { ProviderTranslator } from '../types';

/** OpenAI-compatible servers stream OpenAI chunks already: no stream translator. */
export const streamTranslator: ProviderTranslator['streamTranslator'] = () => undefined;
