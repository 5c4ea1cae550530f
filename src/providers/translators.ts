import * as anthropic from './anthropic';
import * as cohere from './cohere';
import * as google from './google';
import * as huggingface from './huggingface';
import * as meta from './meta';
import * as openaiCompatible from './openai-compatible';
import type { ProviderTranslator } from './types';

/** What every provider folder's `index.ts` exports. */
export interface ProviderModule {
  readonly translator: ProviderTranslator;
  /** Other names the provider answers to as a configured `type` (`gemini` for `google`). */
  readonly aliases: readonly string[];
}

/**
 * The built-in providers, keyed by folder name. Adding a provider is adding its folder and one
 * line here; test/unit/providers/registry.test.ts fails for a folder that is not listed.
 */
export const PROVIDER_MODULES: Readonly<Record<string, ProviderModule>> = {
  anthropic,
  cohere,
  google,
  huggingface,
  meta,
  'openai-compatible': openaiCompatible,
};

/** Every provider `type` (translator types and aliases) → its translator. */
const BY_TYPE: ReadonlyMap<string, ProviderTranslator> = new Map(
  Object.values(PROVIDER_MODULES).flatMap((m) => [m.translator.type, ...m.aliases].map((name) => [name, m.translator] as const)),
);

export function translatorFor(type: string): ProviderTranslator | undefined {
  return BY_TYPE.get(type);
}

