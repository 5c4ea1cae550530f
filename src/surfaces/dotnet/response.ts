import { SseEvent, type JsonObject, type JsonValue } from '../../domain';
import type { SurfaceReplyContext, SurfaceStream } from '../types';
import { openAIStreamAbort } from '../abort';

/**
 * Answers for the earlier .NET gateway's clients: OpenAI's objects, unchanged, with the .NET
 * DTO's camelCase fields added beside them. The exact DTOs are not available; System.Text.Json
 * (and OpenAI-shaped clients) ignore members they do not know, so a superset serves both:
 *   - completion: `content` (the first choice's text), `modelId` (the id the client asked for),
 *     `provider`, `finishReason`, and `usage` carrying `promptTokens`, `completionTokens`,
 *     `totalTokens` beside `prompt_tokens`, ...;
 *   - stream chunk: the same, `content` being the chunk's delta text (`""` when it has none);
 *   - embedding: `embeddings` (the vectors in input order), `modelId`, `provider`, `usage`;
 *   - model: `displayName` (the display name, else the id) and `contextWindow` when known.
 * Every function is idempotent: translating an already translated body changes nothing.
 */

type Obj = JsonObject;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const int = (v: JsonValue | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** OpenAI's usage with the camelCase names beside it. */
export function withCamelUsage(usage: Obj): Obj {
  const prompt = int(usage.prompt_tokens);
  const completion = int(usage.completion_tokens);
  const total = usage.total_tokens === undefined ? prompt + completion : int(usage.total_tokens);
  return { ...usage, promptTokens: prompt, completionTokens: completion, totalTokens: total };
}

const firstChoice = (body: Obj): Obj | undefined => {
  if (!Array.isArray(body.choices)) return undefined;
  const c = body.choices.find((x) => isObj(x) && (x.index === 0 || x.index === undefined)) ?? body.choices[0];
  return isObj(c) ? c : undefined;
};

/** The fields every completion answer and chunk carries. */
function common(body: Obj, ctx: SurfaceReplyContext): Obj {
  const modelId = ctx.requestedModel ?? (typeof body.model === 'string' ? body.model : null);
  return {
    modelId,
    provider: ctx.provider ?? null,
    ...(isObj(body.usage) ? { usage: withCamelUsage(body.usage) } : {}),
  };
}

export function completionResponse(body: JsonValue, ctx: SurfaceReplyContext): JsonValue {
  if (!isObj(body)) return body;
  const choice = firstChoice(body);
  const message = isObj(choice?.message) ? choice.message : undefined;
  const text = typeof message?.content === 'string' ? message.content : typeof choice?.text === 'string' ? choice.text : null;
  const finish = choice?.finish_reason;
  return { ...body, content: text, ...common(body, ctx), finishReason: typeof finish === 'string' ? finish : null };
}

export function embeddingResponse(body: JsonValue, ctx: SurfaceReplyContext): JsonValue {
  if (!isObj(body) || !Array.isArray(body.data)) return body;
  const items = body.data.filter(isObj);
  const ordered = items.every((d) => typeof d.index === 'number') ? [...items].sort((a, b) => int(a.index) - int(b.index)) : items;
  return { ...body, embeddings: ordered.map((d) => d.embedding ?? null), ...common(body, ctx) };
}

function model(m: JsonValue): JsonValue {
  if (!isObj(m)) return m;
  const display = typeof m.display_name === 'string' ? m.display_name : m.id;
  return { ...m, displayName: display ?? null, ...(typeof m.context_window === 'number' ? { contextWindow: m.context_window } : {}) };
}

/** A model list (`{object: 'list', data}`) or one model. */
export function modelsResponse(body: JsonValue): JsonValue {
  if (!isObj(body)) return body;
  return Array.isArray(body.data) ? { ...body, data: body.data.map(model) } : model(body);
}

/** Chunks gain `content` (the delta text), `modelId`, `provider`, `finishReason`, camelCase usage. */
export class CompletionStream implements SurfaceStream {
  constructor(private readonly ctx: SurfaceReplyContext) {}

  private chunk(event: SseEvent): SseEvent[] {
    if (!event.data.startsWith('{')) return [event];
    const chunk = event.json;
    // Error events stay OpenAI's (the surface's error shape); anything that is not a chunk passes.
    if (!isObj(chunk) || chunk.error !== undefined || !Array.isArray(chunk.choices)) return [event];
    const choice = firstChoice(chunk);
    const delta = isObj(choice?.delta) ? choice.delta : undefined;
    const text = typeof delta?.content === 'string' ? delta.content : typeof choice?.text === 'string' ? choice.text : '';
    const finish = choice?.finish_reason;
    const out = { ...chunk, content: text, ...common(chunk, this.ctx), finishReason: typeof finish === 'string' ? finish : null };
    return [new SseEvent(event.event, JSON.stringify(out), event.id)];
  }

  private ended = false;

  translate(event: SseEvent): SseEvent[] {
    return this.ended ? [] : this.chunk(event);
  }

  finish(): SseEvent[] {
    return [];
  }

  /** Errors keep OpenAI's shape on this surface: the error event, then `[DONE]`. */
  abort(error: JsonValue): SseEvent[] {
    if (this.ended) return [];
    this.ended = true;
    return openAIStreamAbort(error);
  }
}
