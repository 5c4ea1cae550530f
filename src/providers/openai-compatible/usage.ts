import type { JsonValue, TokenUsage } from '../../plugins/types';

type Obj = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads OpenAI's `usage` object (chat, completions and embeddings shapes). */
export function openAIUsage(body: JsonValue): TokenUsage | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const u = (body as Obj).usage as Obj | null | undefined;
  if (!u || typeof u !== 'object') return undefined;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens) ?? 0;
  const completion = num(u.completion_tokens) ?? num(u.output_tokens) ?? 0;
  const usage: TokenUsage = {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: num(u.total_tokens) ?? prompt + completion,
  };
  const cached = num((u.prompt_tokens_details as Obj | undefined)?.cached_tokens);
  const reasoning = num((u.completion_tokens_details as Obj | undefined)?.reasoning_tokens);
  if (cached !== undefined) usage.cachedTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}
