import type { Endpoint, JsonObject, JsonValue } from '../../src';

/**
 * Cheap, conservative token estimates for admission and for counting a stream as it passes: about
 * four characters a token (OpenAI's rule of thumb for English; other scripts take more tokens a
 * character, so the provider's usage corrects the count when it comes). No tokenizer: one would
 * cost more than the rest of a request's processing, and differs per provider anyway.
 */

export const CHARS_PER_TOKEN = 4;
/** An image or file part, whatever its size: above OpenAI's cost of a high-detail 1024×1024 image (765). */
export const ATTACHMENT_TOKENS = 1500;
/** Per message: role and separators (OpenAI's chat format adds 3-4). */
const MESSAGE_OVERHEAD = 4;
/** Part types that carry an image, audio or a file rather than text. */
const ATTACHMENT_TYPES = new Set(['image_url', 'input_image', 'image', 'input_audio', 'file', 'input_file']);

/** The prompt's tokens: every text of the fields the model reads, attachments at a flat rate. */
export function estimatePromptTokens(body: JsonObject, endpoint: Endpoint | string): number {
  let chars = 0;
  let fixed = 0;
  const walk = (v: JsonValue | undefined, depth: number): void => {
    if (depth > 64 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      // A data: URL outside a typed part is an attachment too, not text.
      if (v.startsWith('data:')) fixed += ATTACHMENT_TOKENS;
      else chars += v.length;
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      chars += 1;
    } else if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1);
    } else {
      if (typeof v.type === 'string' && ATTACHMENT_TYPES.has(v.type)) {
        fixed += ATTACHMENT_TOKENS;
        return;
      }
      for (const key of Object.keys(v)) {
        // Keys are part of what tools and schemas cost; plain message keys are small.
        chars += key.length;
        walk(v[key], depth + 1);
      }
    }
  };
  const fields = PROMPT_FIELDS[endpoint as string] ?? Object.keys(body);
  for (const f of fields) if (Object.hasOwn(body, f)) walk(body[f], 0);
  const messages = Array.isArray(body.messages) ? body.messages.length : Array.isArray(body.input) ? body.input.length : 1;
  return Math.ceil(chars / CHARS_PER_TOKEN) + fixed + MESSAGE_OVERHEAD * messages;
}

const PROMPT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'chat.completions': ['messages', 'tools', 'functions', 'response_format', 'tool_choice'],
  completions: ['prompt', 'suffix'],
  responses: ['input', 'instructions', 'tools', 'text', 'tool_choice'],
  embeddings: ['input'],
};

/** The output limit the request itself sets (times `n` choices), or undefined when it sets none. */
export function requestedOutputTokens(body: JsonObject, endpoint: Endpoint | string): number | undefined {
  if (endpoint === 'embeddings') return 0;
  const limit = positive(endpoint === 'responses' ? body.max_output_tokens : (body.max_completion_tokens ?? body.max_tokens));
  const n = positive(body.n) ?? 1;
  return limit === undefined ? undefined : limit * Math.min(n, 128);
}

/** The field a request's output limit goes in, to lower it to what the budget allows. */
export function outputLimitField(body: JsonObject, endpoint: Endpoint | string, providerType: string | undefined): string | undefined {
  if (endpoint === 'responses') return 'max_output_tokens';
  if (endpoint === 'completions') return 'max_tokens';
  if (endpoint !== 'chat.completions') return undefined;
  if (body.max_completion_tokens !== undefined) return 'max_completion_tokens';
  if (body.max_tokens !== undefined) return 'max_tokens';
  // OpenAI's newer models refuse max_tokens; other servers may not know max_completion_tokens.
  return providerType === 'openai' ? 'max_completion_tokens' : 'max_tokens';
}

/** The generated text an OpenAI stream event carries (chat and completions chunks, Responses deltas). */
export function eventTextChars(json: JsonValue | undefined): number {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return 0;
  let chars = 0;
  if (typeof json.delta === 'string') chars += json.delta.length;
  const choices = json.choices;
  if (Array.isArray(choices)) {
    for (const c of choices) {
      if (!c || typeof c !== 'object' || Array.isArray(c)) continue;
      if (typeof c.text === 'string') chars += c.text.length;
      const d = c.delta;
      if (!d || typeof d !== 'object' || Array.isArray(d)) continue;
      for (const f of ['content', 'refusal', 'reasoning_content', 'reasoning'] as const) {
        const v = d[f];
        if (typeof v === 'string') chars += v.length;
      }
      if (Array.isArray(d.tool_calls)) {
        for (const t of d.tool_calls) {
          const fn = t && typeof t === 'object' && !Array.isArray(t) ? t.function : undefined;
          if (!fn || typeof fn !== 'object' || Array.isArray(fn)) continue;
          if (typeof fn.name === 'string') chars += fn.name.length;
          if (typeof fn.arguments === 'string') chars += fn.arguments.length;
        }
      }
    }
  }
  return chars;
}

/** Tokens for the text of one event: any text is at least one token (providers stream about one a chunk). */
export function textTokens(chars: number): number {
  return chars > 0 ? Math.ceil(chars / CHARS_PER_TOKEN) : 0;
}

function positive(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.floor(v) : undefined;
}
