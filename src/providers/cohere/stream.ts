import type { SseEvent } from '../../domain/sse';
import { isObj, type Obj } from '../shared/json';
import type { ChunkToolCallDelta, FinishReason, Usage } from '../shared/openai-types';
import { ChunkFactory, doneEvent, includeUsage, streamErrorEvent } from '../shared/stream';
import type { StreamTranslator, TranslationInput } from '../types';
import { errorFor, finishReason, toOpenAIUsage } from './response';

/**
 * Cohere v2 chat stream → OpenAI chunks. Cohere sends named SSE events whose JSON repeats the
 * name in `type`: message-start, content-start/delta/end, tool-plan-delta, tool-call-start/
 * delta/end, citation-start/end, debug, message-end (finish_reason, usage, error).
 */

/** Chat completions stream; embeddings are never streamed. */
export function streamTranslator(input: TranslationInput): StreamTranslator | undefined {
  return input.endpoint === 'chat.completions' ? new CohereStreamTranslator(input) : undefined;
}

/** `delta.message` of an event. */
function deltaMessage(data: Obj): Obj {
  const delta = isObj(data.delta) ? data.delta : {};
  return isObj(delta.message) ? delta.message : {};
}

export class CohereStreamTranslator implements StreamTranslator {
  private factory: ChunkFactory | undefined;
  private readonly model: string;
  private readonly includeUsage: boolean;
  private started = false;
  private done = false;
  private sawToolCall = false;
  /** Cohere's tool-call `index` → OpenAI tool-call ordinal (0, 1, 2 in order of tool-call-start). */
  private readonly ordinals = new Map<number, number>();
  private lastOrdinal = -1;
  /** Content indices that carry thinking rather than answer text. */
  private readonly thinking = new Set<number>();

  constructor(input: TranslationInput) {
    this.model = input.target.model;
    this.includeUsage = includeUsage(input.body);
  }

  private chunks(id?: string): ChunkFactory {
    this.factory ??= new ChunkFactory(this.model, id || undefined);
    return this.factory;
  }

  /** The first chunk of every stream carries the assistant role. */
  private start(out: SseEvent[], id?: string): void {
    if (this.started) return;
    this.started = true;
    out.push(this.chunks(id).chunk({ role: 'assistant', content: '' }));
  }

  translate(event: SseEvent): SseEvent[] {
    if (this.done) return [];
    const data = event.json;
    if (!isObj(data)) return [];
    const type = typeof data.type === 'string' ? data.type : event.event;
    const out: SseEvent[] = [];
    switch (type) {
      case 'message-start':
        this.start(out, typeof data.id === 'string' ? data.id : undefined);
        break;
      case 'content-start': {
        const content = deltaMessage(data).content;
        const index = typeof data.index === 'number' ? data.index : 0;
        if (isObj(content) && content.type === 'thinking') this.thinking.add(index);
        else this.text(out, isObj(content) ? content.text : undefined);
        break;
      }
      case 'content-delta': {
        const index = typeof data.index === 'number' ? data.index : 0;
        const content = deltaMessage(data).content;
        if (!this.thinking.has(index) && isObj(content)) this.text(out, content.text);
        break;
      }
      case 'tool-call-start':
        this.toolStart(out, data);
        break;
      case 'tool-call-delta':
        this.toolDelta(out, data);
        break;
      case 'message-end':
        this.end(out, data);
        break;
      case 'error':
        this.fail(out, data);
        break;
      default:
        // content-end, tool-plan-delta, tool-call-end, citation-start/end, debug: nothing to send.
        if (type === undefined && typeof data.message === 'string') this.fail(out, data);
    }
    return out;
  }

  private text(out: SseEvent[], text: unknown): void {
    if (typeof text !== 'string' || text === '') return;
    this.start(out);
    out.push(this.chunks().chunk({ content: text }));
  }

  private toolStart(out: SseEvent[], data: Obj): void {
    const call = deltaMessage(data).tool_calls;
    if (!isObj(call)) return;
    this.start(out);
    this.sawToolCall = true;
    const ordinal = ++this.lastOrdinal;
    if (typeof data.index === 'number') this.ordinals.set(data.index, ordinal);
    const fn = isObj(call.function) ? call.function : {};
    const first: ChunkToolCallDelta = {
      index: ordinal,
      id: typeof call.id === 'string' && call.id ? call.id : `call_${ordinal}`,
      type: 'function',
      function: { name: typeof fn.name === 'string' ? fn.name : '', arguments: '' },
    };
    out.push(this.chunks().chunk({ tool_calls: [first] }));
    if (typeof fn.arguments === 'string' && fn.arguments) {
      out.push(this.chunks().chunk({ tool_calls: [{ index: ordinal, function: { arguments: fn.arguments } }] }));
    }
  }

  private toolDelta(out: SseEvent[], data: Obj): void {
    const call = deltaMessage(data).tool_calls;
    const fn = isObj(call) && isObj(call.function) ? call.function : {};
    if (typeof fn.arguments !== 'string' || fn.arguments === '') return;
    const ordinal = (typeof data.index === 'number' ? this.ordinals.get(data.index) : undefined) ?? this.lastOrdinal;
    if (ordinal < 0) return;
    out.push(this.chunks().chunk({ tool_calls: [{ index: ordinal, function: { arguments: fn.arguments } }] }));
  }

  private end(out: SseEvent[], data: Obj): void {
    const delta = isObj(data.delta) ? data.delta : {};
    if (typeof delta.error === 'string' && delta.error) {
      this.fail(out, { message: delta.error });
      return;
    }
    this.start(out);
    const finish: FinishReason = finishReason(delta.finish_reason, this.sawToolCall);
    out.push(this.chunks().chunk({}, finish));
    const usage: Usage | undefined = toOpenAIUsage(delta.usage);
    if (this.includeUsage && usage) out.push(this.chunks().usage(usage));
    out.push(doneEvent());
    this.done = true;
  }

  /** An error mid-stream: an OpenAI error event the SDKs raise, then `[DONE]`. */
  private fail(out: SseEvent[], data: Obj): void {
    const message = typeof data.message === 'string' && data.message ? data.message : 'The Cohere stream failed.';
    const status = typeof data.status === 'number' ? data.status : 500;
    const { error } = errorFor(status, message);
    out.push(streamErrorEvent(error.message, error.type, error.code));
    out.push(doneEvent());
    this.done = true;
  }

  finish(): SseEvent[] {
    if (this.done) return [];
    const out: SseEvent[] = [];
    this.fail(out, { message: 'The Cohere stream ended before its message-end event.' });
    return out;
  }
}
