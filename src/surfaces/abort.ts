import { SseEvent, type JsonValue } from '../domain';

/** OpenAI's early end of a stream: the error body as a data event, then `[DONE]` (the SDKs raise it). */
export function openAIStreamAbort(error: JsonValue): SseEvent[] {
  return [new SseEvent(undefined, JSON.stringify(error)), new SseEvent(undefined, '[DONE]')];
}
