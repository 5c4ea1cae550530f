import type { JsonObject, JsonValue, StreamEvent } from '../../src';

/**
 * Chat completions in both shapes: a stream assembled into the completion a buffered request
 * would have got (what the cache stores), and a stored completion replayed as the stream a
 * `stream: true` request expects (chat.completion.chunk events, the usage chunk when asked for,
 * then [DONE]).
 */

type Obj = JsonObject;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ToolCallAcc {
  id: string | undefined;
  type: string | undefined;
  name: string;
  args: string;
}

interface ChoiceAcc {
  role: string | undefined;
  content: string | null;
  refusal: string | null;
  toolCalls: Map<number, ToolCallAcc>;
  logprobs: JsonValue[] | null;
  finishReason: string | null;
}

/** Delta fields the assembler understands; a chunk with any other (audio, function_call) is not stored. */
const DELTA_FIELDS = new Set(['role', 'content', 'refusal', 'tool_calls']);
/** Top-level fields of the chunks kept in the completion. */
const TEMPLATE_FIELDS = ['id', 'created', 'model', 'system_fingerprint', 'service_tier'];

/**
 * Assembles a chat completion stream, event by event. `result()` is the completion, or undefined
 * when the stream was not a complete, well-formed answer: no [DONE], an error event, a choice
 * without a finish_reason, or content the assembler cannot represent.
 */
export class StreamAssembler {
  private readonly template: Obj = {};
  private readonly choices = new Map<number, ChoiceAcc>();
  private usage: Obj | undefined;
  private done = false;
  private broken = false;

  push(event: StreamEvent): void {
    if (this.broken) return;
    if (event.data === '[DONE]') {
      this.done = true;
      return;
    }
    const chunk = event.json;
    if (this.done || !isObj(chunk) || chunk.error !== undefined || !Array.isArray(chunk.choices)) {
      this.broken = true;
      return;
    }
    for (const k of TEMPLATE_FIELDS) if (this.template[k] === undefined && chunk[k] !== undefined && chunk[k] !== null) this.template[k] = chunk[k]!;
    if (isObj(chunk.usage)) this.usage = chunk.usage;
    for (const [pos, c] of chunk.choices.entries()) {
      if (!isObj(c)) return void (this.broken = true);
      const index = typeof c.index === 'number' ? c.index : pos;
      let acc = this.choices.get(index);
      if (!acc) {
        acc = { role: undefined, content: null, refusal: null, toolCalls: new Map(), logprobs: null, finishReason: null };
        this.choices.set(index, acc);
      }
      const delta = c.delta;
      if (isObj(delta)) {
        for (const [k, v] of Object.entries(delta)) {
          if (v === null || v === undefined) continue;
          if (!DELTA_FIELDS.has(k)) return void (this.broken = true);
        }
        if (typeof delta.role === 'string') acc.role = delta.role;
        if (typeof delta.content === 'string') acc.content = (acc.content ?? '') + delta.content;
        if (typeof delta.refusal === 'string') acc.refusal = (acc.refusal ?? '') + delta.refusal;
        if (Array.isArray(delta.tool_calls)) {
          for (const [tpos, t] of delta.tool_calls.entries()) {
            if (!isObj(t)) return void (this.broken = true);
            const ti = typeof t.index === 'number' ? t.index : tpos;
            let call = acc.toolCalls.get(ti);
            if (!call) {
              call = { id: undefined, type: undefined, name: '', args: '' };
              acc.toolCalls.set(ti, call);
            }
            if (typeof t.id === 'string') call.id = t.id;
            if (typeof t.type === 'string') call.type = t.type;
            const fn = t.function;
            if (isObj(fn)) {
              if (typeof fn.name === 'string') call.name += fn.name;
              if (typeof fn.arguments === 'string') call.args += fn.arguments;
            }
          }
        }
      }
      if (isObj(c.logprobs) && Array.isArray(c.logprobs.content)) (acc.logprobs ??= []).push(...c.logprobs.content);
      if (typeof c.finish_reason === 'string') acc.finishReason = c.finish_reason;
    }
  }

  result(): Obj | undefined {
    if (!this.done || this.broken || this.choices.size === 0) return undefined;
    const choices: Obj[] = [];
    for (const index of [...this.choices.keys()].sort((a, b) => a - b)) {
      const acc = this.choices.get(index)!;
      if (acc.finishReason === null) return undefined;
      const message: Obj = { role: acc.role ?? 'assistant', content: acc.content, refusal: acc.refusal };
      if (acc.toolCalls.size) {
        message.tool_calls = [...acc.toolCalls.keys()]
          .sort((a, b) => a - b)
          .map((i) => {
            const t = acc.toolCalls.get(i)!;
            return { id: t.id ?? null, type: t.type ?? 'function', function: { name: t.name, arguments: t.args } };
          });
      }
      choices.push({ index, message, logprobs: acc.logprobs ? { content: acc.logprobs, refusal: null } : null, finish_reason: acc.finishReason });
    }
    const out: Obj = { id: this.template.id ?? null, object: 'chat.completion', created: this.template.created ?? Math.floor(Date.now() / 1000), model: this.template.model ?? null, choices };
    for (const k of ['system_fingerprint', 'service_tier']) if (this.template[k] !== undefined) out[k] = this.template[k]!;
    if (this.usage) out.usage = this.usage;
    return out;
  }
}

/** Message fields a replayed stream can carry; a completion with others (audio, function_call) is not replayed. */
const MESSAGE_FIELDS = new Set(['role', 'content', 'refusal', 'tool_calls']);

/**
 * A stored chat completion as the server-sent events of a stream: per choice, one chunk with the
 * whole message (role, content, tool calls) and one with its finish_reason; then the usage chunk
 * if the client asked for it (`stream_options.include_usage`); then `data: [DONE]`. Undefined
 * when the completion cannot be replayed faithfully.
 */
export function replayAsStream(completion: JsonValue, includeUsage: boolean): string | undefined {
  if (!isObj(completion) || !Array.isArray(completion.choices)) return undefined;
  const head: Obj = { id: completion.id ?? null, object: 'chat.completion.chunk', created: completion.created ?? 0, model: completion.model ?? null };
  for (const k of ['system_fingerprint', 'service_tier']) if (completion[k] !== undefined && completion[k] !== null) head[k] = completion[k]!;
  const events: Obj[] = [];
  for (const [pos, c] of completion.choices.entries()) {
    if (!isObj(c) || !isObj(c.message)) return undefined;
    const m = c.message;
    for (const [k, v] of Object.entries(m)) {
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      if (!MESSAGE_FIELDS.has(k)) return undefined;
    }
    const index = typeof c.index === 'number' ? c.index : pos;
    const delta: Obj = { role: typeof m.role === 'string' ? m.role : 'assistant', content: typeof m.content === 'string' ? m.content : null };
    if (typeof m.refusal === 'string') delta.refusal = m.refusal;
    if (Array.isArray(m.tool_calls) && m.tool_calls.length) {
      delta.tool_calls = m.tool_calls.map((t, i) => {
        const call = isObj(t) ? t : {};
        const fn = isObj(call.function) ? call.function : {};
        return { index: i, id: call.id ?? null, type: call.type ?? 'function', function: { name: fn.name ?? '', arguments: fn.arguments ?? '' } };
      });
    }
    events.push({ ...head, choices: [{ index, delta, logprobs: c.logprobs ?? null, finish_reason: null }] });
    events.push({ ...head, choices: [{ index, delta: {}, logprobs: null, finish_reason: typeof c.finish_reason === 'string' ? c.finish_reason : 'stop' }] });
  }
  if (includeUsage && isObj(completion.usage)) events.push({ ...head, choices: [], usage: completion.usage });
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
}
