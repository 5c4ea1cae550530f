import type { JsonObject, JsonValue } from '../../domain';
import { isObj } from '../json';

/** Anthropic's own figure for a typical image (about 1.15 megapixels: width × height / 750). */
const TOKENS_PER_IMAGE = 1600;
/** Per message: the role and the turn's framing. */
const TOKENS_PER_MESSAGE = 4;
/** How deep content is walked. */
const MAX_DEPTH = 16;

/**
 * An estimate of a Messages request's input tokens, for models whose provider has no
 * count_tokens: about four characters a token over every text (system, messages, tool results,
 * tool definitions as JSON, tool inputs as JSON), plus a fixed cost per message and per image.
 * Nothing is called; real tokenizers differ by model, typically within ±20% on English text.
 */
export function estimateInputTokens(body: JsonObject): number {
  let chars = 0;
  let extra = 0;
  // Content nests a few levels (tool results hold blocks); deeper is not content, and not walked.
  const visit = (v: JsonValue | undefined, depth = 0): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (isObj(v)) {
      if (v.type === 'image') {
        extra += TOKENS_PER_IMAGE;
        return;
      }
      if (v.type === 'tool_use') {
        chars += JSON.stringify(v.input ?? {}).length + String(v.name ?? '').length;
        return;
      }
      for (const [k, x] of Object.entries(v)) if (k === 'text' || k === 'content' || k === 'thinking') visit(x, depth + 1);
    }
  };
  visit(body.system);
  if (Array.isArray(body.messages)) {
    extra += TOKENS_PER_MESSAGE * body.messages.length;
    for (const m of body.messages) if (isObj(m)) visit(m.content);
  }
  if (Array.isArray(body.tools)) chars += JSON.stringify(body.tools).length;
  return Math.max(1, Math.ceil(chars / 4) + extra);
}
