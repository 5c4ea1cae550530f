import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../domain';
import { SseEvent } from '../../domain/sse';
import { isObj } from './json';
import type { ChatCompletionChunk, FinishReason, Usage } from './openai-types';

/** Building blocks shared by the stream translators: OpenAI chunk events, `[DONE]`, errors. */

export function dataEvent(payload: unknown): SseEvent {
  const ev = new SseEvent(undefined, JSON.stringify(payload));
  ev.changed = true;
  return ev;
}

export function doneEvent(): SseEvent {
  const ev = new SseEvent(undefined, '[DONE]');
  ev.changed = true;
  return ev;
}

/** An OpenAI-style id (`chatcmpl-…`) for responses whose provider gives none. */
export const completionId = (prefix = 'chatcmpl'): string => `${prefix}-${randomBytes(12).toString('hex')}`;

/** Makes the chunks of one stream: same id, created time and model on every chunk. */
export class ChunkFactory {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    public model: string,
    id?: string,
  ) {
    this.id = id ?? completionId();
  }

  chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: FinishReason | null = null, index = 0): SseEvent {
    const c: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    };
    return dataEvent(c);
  }

  /** The final usage-only chunk (`choices: []`), as OpenAI sends with stream_options.include_usage. */
  usage(usage: Usage): SseEvent {
    const c: ChatCompletionChunk = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage };
    return dataEvent(c);
  }
}

/** An error in the middle of a stream, in the shape the OpenAI SDKs raise as an APIError. */
export function streamErrorEvent(message: string, type: string, code: string | null): SseEvent {
  return dataEvent({ error: { message, type, param: null, code } });
}

/** True when a chat request asks for the final usage chunk (`stream_options.include_usage`). */
export function includeUsage(body: JsonObject | undefined): boolean {
  const so = body?.stream_options;
  return isObj(so) && so.include_usage === true;
}
