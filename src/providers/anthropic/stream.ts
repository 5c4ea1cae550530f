import type { SseEvent } from '../../domain/sse';
import type { FinishReason } from '../shared/openai-types';
import { ChunkFactory, doneEvent, includeUsage, streamErrorEvent } from '../shared/stream';
import type { StreamTranslator, TranslationInput } from '../types';
import type { NativeUsage } from './native';
import { jsonSchemaToolName } from './request';
import { finishReason, toOpenAIError, toOpenAIUsage } from './response';

/** Stream events are read loosely: every field is checked where it is used. */
type Loose = Record<string, any>;

/** Chat completions stream; Anthropic streams nothing else. */
export function streamTranslator(input: TranslationInput): StreamTranslator | undefined {
  return input.endpoint === 'chat.completions' ? new AnthropicStreamTranslator(input) : undefined;
}

/**
 * Anthropic's typed stream events → OpenAI chunks. Content-block indices count text and tool
 * blocks alike, so tool calls are renumbered 0, 1, 2 in the order their blocks start; the
 * synthetic structured-output tool streams its JSON as content instead.
 */
export class AnthropicStreamTranslator implements StreamTranslator {
  private chunks: ChunkFactory | undefined;
  private readonly includeUsage: boolean;
  private readonly jsonTool: string | undefined;
  /** Content-block index → tool-call ordinal, or 'json' for the structured-output tool. */
  private readonly blocks = new Map<number, number | 'json'>();
  private toolCalls = 0;
  private usage: NativeUsage = {};
  private finishSent = false;
  private done = false;

  constructor(private readonly input: TranslationInput) {
    this.includeUsage = includeUsage(input.body);
    this.jsonTool = jsonSchemaToolName(input.body);
  }

  translate(ev: SseEvent): SseEvent[] {
    if (this.done) return [];
    const data = ev.json as Loose | undefined;
    const type = typeof data?.type === 'string' ? data.type : ev.event;
    if (!data || typeof data !== 'object') return type === 'error' ? this.error(undefined, ev.data || 'The provider stream failed.') : [];
    switch (type) {
      case 'message_start':
        return this.start(data.message ?? {});
      case 'content_block_start':
        return this.blockStart(data.index, data.content_block ?? {});
      case 'content_block_delta':
        return this.blockDelta(data.index, data.delta ?? {});
      case 'message_delta':
        return this.messageDelta(data);
      case 'message_stop':
        return this.end();
      case 'error':
        return this.error(data.error?.type, typeof data.error?.message === 'string' ? data.error.message : 'The provider stream failed.');
      default:
        // ping, content_block_stop, and event types added later.
        return [];
    }
  }

  finish(): SseEvent[] {
    if (this.done) return [];
    if (!this.finishSent) return this.error('api_error', 'The provider stream ended before the response was complete.');
    return this.end();
  }

  private factory(): ChunkFactory {
    return (this.chunks ??= new ChunkFactory(this.input.target.model));
  }

  private start(message: Loose): SseEvent[] {
    const model = typeof message.model === 'string' && message.model ? message.model : this.input.target.model;
    this.chunks ??= new ChunkFactory(model, typeof message.id === 'string' && message.id ? message.id : undefined);
    this.mergeUsage(message.usage);
    return [this.chunks.chunk({ role: 'assistant', content: '' })];
  }

  private blockStart(index: number, block: Loose): SseEvent[] {
    if (block.type === 'text') return typeof block.text === 'string' && block.text ? [this.factory().chunk({ content: block.text })] : [];
    if (block.type !== 'tool_use') return [];
    if (this.jsonTool !== undefined && block.name === this.jsonTool) {
      this.blocks.set(index, 'json');
      return [];
    }
    const ordinal = this.toolCalls++;
    this.blocks.set(index, ordinal);
    const call = { index: ordinal, id: String(block.id), type: 'function' as const, function: { name: String(block.name), arguments: '' } };
    return [this.factory().chunk({ tool_calls: [call] })];
  }

  private blockDelta(index: number, delta: Loose): SseEvent[] {
    if (delta.type === 'text_delta') return typeof delta.text === 'string' && delta.text ? [this.factory().chunk({ content: delta.text })] : [];
    if (delta.type !== 'input_json_delta' || typeof delta.partial_json !== 'string' || !delta.partial_json) return [];
    const target = this.blocks.get(index);
    if (target === undefined) return [];
    if (target === 'json') return [this.factory().chunk({ content: delta.partial_json })];
    return [this.factory().chunk({ tool_calls: [{ index: target, function: { arguments: delta.partial_json } }] })];
  }

  private messageDelta(data: Loose): SseEvent[] {
    this.mergeUsage(data.usage);
    const stop = data.delta?.stop_reason;
    if (stop === undefined || stop === null || this.finishSent) return [];
    let finish: FinishReason = finishReason(stop);
    // Only the structured-output tool was called: to the client that is a plain answer.
    if (finish === 'tool_calls' && this.toolCalls === 0) finish = 'stop';
    this.finishSent = true;
    return [this.factory().chunk({}, finish)];
  }

  private end(): SseEvent[] {
    this.done = true;
    const out: SseEvent[] = [];
    if (!this.finishSent) {
      this.finishSent = true;
      out.push(this.factory().chunk({}, this.toolCalls ? 'tool_calls' : 'stop'));
    }
    if (this.includeUsage) out.push(this.factory().usage(toOpenAIUsage(this.usage)));
    out.push(doneEvent());
    return out;
  }

  private error(nativeType: string | undefined, message: string): SseEvent[] {
    this.done = true;
    const { error } = toOpenAIError(nativeType, message);
    return [streamErrorEvent(error.message, error.type, error.code), doneEvent()];
  }

  /** message_start carries the input counts, message_delta the (cumulative) output count. */
  private mergeUsage(u: unknown): void {
    if (!u || typeof u !== 'object') return;
    for (const [k, v] of Object.entries(u as Loose)) if (typeof v === 'number') (this.usage as Loose)[k] = v;
  }
}
