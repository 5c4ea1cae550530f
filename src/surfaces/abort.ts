import { SseEvent, type JsonValue } from '../domain';
import type { SurfaceStream } from './types';

/** OpenAI's early end of a stream: the error body as a data event, then `[DONE]` (the SDKs raise it). */
export function openAIStreamAbort(error: JsonValue): SseEvent[] {
  return [new SseEvent(undefined, JSON.stringify(error)), new SseEvent(undefined, '[DONE]')];
}

/** The events that end a stream early with `error` (OpenAI's error body), in the client's API. */
export function streamAbort(stream: SurfaceStream | undefined, error: JsonValue): SseEvent[] {
  return stream ? stream.abort(error) : openAIStreamAbort(error);
}
