import { SseEvent, type JsonValue } from '../../domain';
import { isObj, mintId, str, type Obj } from '../json';
import { readChatChunk } from '../chat-chunk';
import type { SurfaceReplyContext, SurfaceStream } from '../types';
import { completion, responseId, responseObject, responsesUsage, textPart } from './response';

/** An output item being streamed: the assistant's text, or one function call. */
type Item = { kind: 'message'; id: string; outputIndex: number; text: string } | { kind: 'call'; id: string; outputIndex: number; callId: string; name: string; args: string };

/**
 * OpenAI chat chunks → Responses streaming events, each with its `sequence_number`:
 * `response.created` and `response.in_progress` on the first chunk; for text,
 * `response.output_item.added` (a message), `response.content_part.added`,
 * `response.output_text.delta`...; for a tool call, `response.output_item.added`
 * (a function_call) and `response.function_call_arguments.delta`...; each item closed with its
 * `.done` events when the next begins or the answer ends; then `response.completed` (or
 * `response.incomplete`) with the whole Response and its usage. No `[DONE]`: Responses streams
 * end with the final event. An OpenAI error event becomes `error` then `response.failed`.
 */
export class ResponsesStream implements SurfaceStream {
  private seq = 0;
  private started = false;
  private ended = false;
  private id = '';
  private created = Math.floor(Date.now() / 1000);
  private readonly items: Item[] = [];
  private open: Item | undefined;
  /** OpenAI tool call index → its item. */
  private readonly calls = new Map<number, Item & { kind: 'call' }>();
  private finishReason: JsonValue | undefined;
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
    if (read.text) out.push(...this.textDelta(read.text));
    for (const call of read.toolCalls) out.push(...this.callDelta(call));
    if (read.finishReason !== undefined) {
      this.finishReason = read.finishReason;
      out.push(...this.closeItem());
    }
    return out;
  }

  finish(): SseEvent[] {
    if (this.ended) return [];
    if (this.finishReason === undefined) return this.abort({ error: { message: 'The provider stream ended before the response was complete.', type: 'server_error', code: 'upstream_error' } });
    return this.end();
  }

  abort(error: JsonValue): SseEvent[] {
    if (this.ended) return [];
    const out = this.start({});
    this.ended = true;
    const err = isObj(error) && isObj(error.error) ? error.error : {};
    const code = str(err.code ?? undefined) ?? str(err.type) ?? 'server_error';
    const message = str(err.message) ?? 'The request failed.';
    out.push(this.event('error', { code, message, param: str(err.param ?? undefined) ?? null }));
    out.push(this.event('response.failed', { response: this.response({ status: 'failed', error: { code, message } }) }));
    return out;
  }

  /** A native stream's event: only its sequence number matters to what may follow it. */
  observe(ev: SseEvent): void {
    const data = ev.json;
    if (isObj(data) && typeof data.sequence_number === 'number') this.seq = data.sequence_number + 1;
    if (isObj(data) && isObj(data.response) && typeof data.response.id === 'string') {
      this.started = true;
      this.id = data.response.id;
    }
    const type = isObj(data) ? str(data.type) : undefined;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') this.ended = true;
  }

  private event(type: string, payload: Obj): SseEvent {
    return new SseEvent(type, JSON.stringify({ type, sequence_number: this.seq++, ...payload }));
  }

  private response(fields: Obj): Obj {
    return responseObject(this.id, this.created, this.ctx, fields);
  }

  private start(chunk: Obj): SseEvent[] {
    if (this.started) return [];
    this.started = true;
    this.id = responseId(chunk.id);
    if (typeof chunk.created === 'number') this.created = chunk.created;
    const response = this.response({});
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  private textDelta(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let item = this.open;
    if (item?.kind !== 'message') {
      out.push(...this.closeItem());
      item = { kind: 'message', id: mintId('msg_'), outputIndex: this.items.length, text: '' };
      this.items.push(item);
      this.open = item;
      out.push(this.event('response.output_item.added', { output_index: item.outputIndex, item: this.itemJson(item, 'in_progress') }));
      out.push(this.event('response.content_part.added', { item_id: item.id, output_index: item.outputIndex, content_index: 0, part: textPart('') }));
    }
    item.text += text;
    out.push(this.event('response.output_text.delta', { item_id: item.id, output_index: item.outputIndex, content_index: 0, delta: text, logprobs: [] }));
    return out;
  }

  private callDelta(call: Obj): SseEvent[] {
    const out: SseEvent[] = [];
    const ordinal = typeof call.index === 'number' ? call.index : this.calls.size;
    const fn = isObj(call.function) ? call.function : {};
    let item = this.calls.get(ordinal);
    if (!item) {
      out.push(...this.closeItem());
      item = { kind: 'call', id: mintId('fc_'), outputIndex: this.items.length, callId: str(call.id) ?? mintId('call_'), name: str(fn.name) ?? '', args: '' };
      this.items.push(item);
      this.calls.set(ordinal, item);
      this.open = item;
      out.push(this.event('response.output_item.added', { output_index: item.outputIndex, item: this.itemJson(item, 'in_progress') }));
    }
    const args = str(fn.arguments);
    if (args) {
      item.args += args;
      out.push(this.event('response.function_call_arguments.delta', { item_id: item.id, output_index: item.outputIndex, delta: args }));
    }
    return out;
  }

  private itemJson(item: Item, status: string): Obj {
    if (item.kind === 'message') {
      return { type: 'message', id: item.id, status, role: 'assistant', content: status === 'in_progress' ? [] : [textPart(item.text)] };
    }
    return { type: 'function_call', id: item.id, call_id: item.callId, name: item.name, arguments: item.args, status };
  }

  private closeItem(): SseEvent[] {
    const item = this.open;
    if (!item) return [];
    this.open = undefined;
    const at = { item_id: item.id, output_index: item.outputIndex };
    const out: SseEvent[] = [];
    if (item.kind === 'message') {
      out.push(this.event('response.output_text.done', { ...at, content_index: 0, text: item.text, logprobs: [] }));
      out.push(this.event('response.content_part.done', { ...at, content_index: 0, part: textPart(item.text) }));
    } else {
      out.push(this.event('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.args }));
    }
    out.push(this.event('response.output_item.done', { output_index: item.outputIndex, item: this.itemJson(item, 'completed') }));
    return out;
  }

  private end(): SseEvent[] {
    const out = [...this.start({}), ...this.closeItem()];
    this.ended = true;
    const { status, incomplete_details } = completion(this.finishReason);
    const output = this.items.map((i) => this.itemJson(i, 'completed'));
    const response = this.response({ status, incomplete_details, output, usage: responsesUsage(this.usage) });
    out.push(this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
    return out;
  }
}
