import type { JsonValue, TokenUsage } from '../../domain';
import { isObj, num, type Obj } from './json';

/**
 * Reads OpenAI's `usage` object (chat, completions and embeddings shapes). Every translator's
 * `usage`: by the time usage is read, the body or chunk is OpenAI-shaped.
 */
export function openAIUsage(body: JsonValue): TokenUsage | undefined {
  if (!isObj(body)) return undefined;
  const u = body.usage as Obj | null | undefined;
  // An array counts as an (empty) usage object, as it always has.
  if (!u || typeof u !== 'object') return undefined;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens) ?? 0;
  const completion = num(u.completion_tokens) ?? num(u.output_tokens) ?? 0;
  const usage: TokenUsage = {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: num(u.total_tokens) ?? prompt + completion,
  };
  const cached = isObj(u.prompt_tokens_details) ? num(u.prompt_tokens_details.cached_tokens) : undefined;
  const reasoning = isObj(u.completion_tokens_details) ? num(u.completion_tokens_details.reasoning_tokens) : undefined;
  if (cached !== undefined) usage.cachedTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}
