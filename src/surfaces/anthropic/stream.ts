import { SseEvent, type JsonValue } from '../../domain';
import { isObj, str, type Obj } from '../json';
import { readChatChunk } from '../chat-chunk';
import type { SurfaceReplyContext, SurfaceStream } from '../types';
import { messageId, messagesError, messagesUsage, stopReason } from './response';

/** One Anthropic SSE event: `event: <type>` and the JSON payload, which repeats the type. */
const event = (type: string, payload: Obj = {}): SseEvent => new SseEvent(type, JSON.stringify({ type, ...payload }));

/**
 * OpenAI chat chunks → Anthropic's typed events: `message_start` (and a `ping`) on the first
 * chunk; a `content_block_start` when text begins or a tool call appears, `content_block_delta`
 * (`text_delta`, `input_json_delta`) for what follows, `content_block_stop` when the block ends;
 * at `[DONE]`, `message_delta` (stop reason, usage from the usage chunk) and `message_stop`.
 * An OpenAI error event ends the stream with `event: error`, as Anthropic's streams do.
 *
 * For a native attempt it only observes Anthropic's own events (block indices, whether the
 * message started), so an abort or a replacement event continues the client's stream correctly.
 */
export class MessagesStream implements SurfaceStream {
  private started = false;
  private ended = false;
  /** The next content block's index, and the open one's kind. */
  private nextIndex = 0;
  private open: { index: number; kind: 'text' | 'tool' } | undefined;
  /** OpenAI tool call index → content block index. */
  private readonly tools = new Map<number, number>();
  private stop: string | undefined;
  /** A native stream's input counts (its message_start), exact where the view's are not (cache writes). */
  private nativeInput: Obj | undefined;
  /** A native stream's own message_delta went out: the end is message_stop alone. */
  private deltaSent = false;
  private usage: JsonValue | undefined;

  constructor(private readonly ctx: SurfaceReplyContext) {}

  translate(ev: SseEvent): SseEvent[] {
    if (this.ended) return [];
    const read = readChatChunk(ev);
    if (read.kind === 'done') return this.end();
    if (read.kind === 'error') return this.abort(read.body);
    if (read.kind === 'skip') return [];
    const out = this.start(read.chunk);
    if (isObj(read.chunk.usage)) this.usage = read.chunk.usage;
    if (!read.choice) return out;
    if (read.text) {
      if (this.open?.kind !== 'text') out.push(...this.openBlock('text', { type: 'text', text: '' }));
      out.push(event('content_block_delta', { index: this.open!.index, delta: { type: 'text_delta', text: read.text } }));
    }
    for (const call of read.toolCalls) out.push(...this.toolDelta(call));
    if (read.finishReason !== undefined) {
      this.stop = stopReason(read.finishReason);
      out.push(...this.closeBlock());
    }
    return out;
  }

  finish(): SseEvent[] {
    if (this.ended) return [];
    // Without a finish reason the answer was cut short: say so rather than end it as complete.
    if (this.stop === undefined) return this.abort({ error: { message: 'The provider stream ended before the response was complete.', type: 'server_error' } });
    return this.end();
  }

  abort(error: JsonValue): SseEvent[] {
    if (this.ended) return [];
    this.ended = true;
    return [new SseEvent('error', JSON.stringify(messagesError(undefined, error)))];
  }

  observe(ev: SseEvent): void {
    const data = ev.json;
    const type = isObj(data) ? str(data.type) : ev.event;
    if (type === 'message_start') {
      this.started = true;
      const usage = isObj(data) && isObj(data.message) && isObj(data.message.usage) ? data.message.usage : undefined;
      if (usage) this.nativeInput = usage;
    }
    else if (type === 'content_block_start' && isObj(data) && typeof data.index === 'number') {
      const block = isObj(data.content_block) ? data.content_block : {};
      this.open = { index: data.index, kind: block.type === 'text' ? 'text' : 'tool' };
      this.nextIndex = data.index + 1;
    } else if (type === 'content_block_stop') this.open = undefined;
    else if (type === 'message_delta') {
      this.deltaSent = true;
      const stop = isObj(data) && isObj(data.delta) ? str(data.delta.stop_reason) : undefined;
      if (stop) this.stop = stop;
    }
    else if (type === 'message_stop' || type === 'error') this.ended = true;
  }

  private start(chunk: Obj): SseEvent[] {
    if (this.started) return [];
    this.started = true;
    const message = {
      id: messageId(chunk.id),
      type: 'message',
      role: 'assistant',
      model: this.ctx.requestedModel ?? str(chunk.model) ?? '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Chat chunks bring the counts at the end: message_delta carries them.
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    return [event('message_start', { message }), event('ping')];
  }

  private openBlock(kind: 'text' | 'tool', block: Obj): SseEvent[] {
    const out = this.closeBlock();
    this.open = { index: this.nextIndex++, kind };
    out.push(event('content_block_start', { index: this.open.index, content_block: block }));
    return out;
  }

  private closeBlock(): SseEvent[] {
    if (!this.open) return [];
    const index = this.open.index;
    this.open = undefined;
    return [event('content_block_stop', { index })];
  }

  private toolDelta(call: Obj): SseEvent[] {
    const ordinal = typeof call.index === 'number' ? call.index : this.tools.size;
    const fn = isObj(call.function) ? call.function : {};
    const out: SseEvent[] = [];
    if (!this.tools.has(ordinal)) {
      out.push(...this.openBlock('tool', { type: 'tool_use', id: str(call.id) ?? `toolu_${ordinal}`, name: str(fn.name) ?? '', input: {} }));
      this.tools.set(ordinal, this.open!.index);
    }
    const args = str(fn.arguments);
    if (args) out.push(event('content_block_delta', { index: this.tools.get(ordinal)!, delta: { type: 'input_json_delta', partial_json: args } }));
    return out;
  }

  private end(): SseEvent[] {
    this.ended = true;
    const out = [...this.start({}), ...this.closeBlock()];
    if (!this.deltaSent) {
      const usage = messagesUsage(this.usage);
      if (this.nativeInput) for (const k of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens']) if (typeof this.nativeInput[k] === 'number') usage[k] = this.nativeInput[k];
      out.push(event('message_delta', { delta: { stop_reason: this.stop ?? 'end_turn', stop_sequence: null }, usage }));
    }
    out.push(event('message_stop'));
    return out;
  }
}
