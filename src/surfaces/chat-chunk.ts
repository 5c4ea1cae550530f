import type { SseEvent } from '../domain';
import { isObj, str, type Obj } from './json';

/** What one event of an OpenAI chat completion stream says, for a surface's stream translator. */
export type ChatChunk =
  | { readonly kind: 'done' }
  /** An error event (a provider's mid-stream error, or the gateway ending the stream). */
  | { readonly kind: 'error'; readonly body: Obj }
  | {
      readonly kind: 'chunk';
      readonly chunk: Obj;
      /** The first choice; undefined for a usage-only chunk. */
      readonly choice: Obj | undefined;
      /** Its text delta, when not empty. */
      readonly text: string | undefined;
      readonly toolCalls: Obj[];
      readonly finishReason: string | undefined;
    }
  /** Not a JSON object: nothing to translate. */
  | { readonly kind: 'skip' };

/** Reads one OpenAI chat stream event (the surfaces translate these into their own). */
export function readChatChunk(ev: SseEvent): ChatChunk {
  if (ev.data === '[DONE]') return { kind: 'done' };
  const chunk = ev.json;
  if (!isObj(chunk)) return { kind: 'skip' };
  if (chunk.error !== undefined && chunk.error !== null) return { kind: 'error', body: chunk };
  const choice = Array.isArray(chunk.choices) ? chunk.choices.find(isObj) : undefined;
  const delta = choice && isObj(choice.delta) ? choice.delta : {};
  return {
    kind: 'chunk',
    chunk,
    choice,
    text: str(delta.content) || undefined,
    toolCalls: Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isObj) : [],
    finishReason: choice ? str(choice.finish_reason) : undefined,
  };
}
