import type { JsonValue, TokenUsage } from '../../domain';
import { isObj, num, type Obj } from './json';

/**
 * Reads OpenAI's `usage` object (chat, completions, embeddings and Responses shapes, and a
 * Responses stream's final event). Every translator's
 * `usage`: by the time usage is read, the body or chunk is OpenAI-shaped.
 */
export function openAIUsage(body: JsonValue): TokenUsage | undefined {
  if (!isObj(body)) return undefined;
  // A Responses stream's final event (response.completed, .incomplete) carries the response.
  const holder = body.usage === undefined && isObj(body.response) && typeof body.type === 'string' && body.type.startsWith('response.') ? body.response : body;
  const u = holder.usage as Obj | null | undefined;
  // An array counts as an (empty) usage object, as it always has.
  if (!u || typeof u !== 'object') return undefined;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens) ?? 0;
  const completion = num(u.completion_tokens) ?? num(u.output_tokens) ?? 0;
  const usage: TokenUsage = {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: num(u.total_tokens) ?? prompt + completion,
  };
  // Chat's *_tokens_details, or Responses' input_/output_tokens_details.
  const inputDetails = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : isObj(u.input_tokens_details) ? u.input_tokens_details : undefined;
  const outputDetails = isObj(u.completion_tokens_details) ? u.completion_tokens_details : isObj(u.output_tokens_details) ? u.output_tokens_details : undefined;
  const cached = inputDetails ? num(inputDetails.cached_tokens) : undefined;
  const reasoning = outputDetails ? num(outputDetails.reasoning_tokens) : undefined;
  if (cached !== undefined) usage.cachedTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}
