import type { JsonValue } from '../../../src/domain';
import type { CompiledRule } from './compile';
import { selectFields } from './fields';
import type { RuleFinding } from './scan';
import { TextWindow, type StreamLimits } from './stream';

type Obj = { [key: string]: JsonValue };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One `output_text` part of the streamed response: its window and the text the client got. */
interface Part {
  window: TextWindow;
  /** Where it is, for the delta that releases its held text: the provider's values. */
  at: { item_id: JsonValue; output_index: JsonValue; content_index: JsonValue };
  /** Everything released so far (masked): what every later event must carry as this part's text. */
  sent: string;
  /** Deltas came for it (else its text is taken whole from the event that ends it). */
  streamed: boolean;
  /** The window was flushed (its `.done` event came): `sent` is the part's whole text. */
  done: boolean;
}

export interface ResponsesEventResult {
  blocked?: RuleFinding;
  /** The event's payload to send instead, when its text or sequence number changed. */
  replace?: JsonValue;
  /** Events to send just before it (held-back text released before a `.done`), each with its `type`. */
  insert: Obj[];
  findings: RuleFinding[];
}

const DELTA = 'response.output_text.delta';
const FINAL = new Set(['response.completed', 'response.incomplete']);

/**
 * Output filtering of a native OpenAI Responses stream, the counterpart of `StreamFilter` for
 * chat chunks: one hold-back window per `output_text` part (`output_index`, `content_index`)
 * fed by `response.output_text.delta`. The text a part's window still holds is released in an
 * extra delta just before its `response.output_text.done`; the `.done` events, the finished
 * item and the final `response.completed` carry exactly the text the deltas released, so a
 * redacted match appears in no event. Sequence numbers are shifted past inserted events.
 * Parts whose text arrives without deltas (only in a `.done` or the final response) are
 * scanned whole there. Function call arguments and refusals are not scanned (as for chat).
 */
export class ResponsesStreamFilter {
  private readonly parts = new Map<string, Part | null>();
  /** Events inserted so far: every later `sequence_number` moves up by this much. */
  private shift = 0;

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly limits: StreamLimits,
  ) {}

  event(json: JsonValue | undefined): ResponsesEventResult {
    if (!isObject(json) || typeof json.type !== 'string') return { insert: [], findings: [] };
    const out: ResponsesEventResult = { insert: [], findings: [] };
    let copy: Obj | undefined;
    const edit = () => (copy ??= structuredClone(json));
    try {
      switch (json.type) {
        case DELTA: {
          const part = this.part(json.output_index, json.content_index, json.item_id);
          if (!part || typeof json.delta !== 'string') break;
          part.streamed = true;
          const r = this.push(part, json.delta, false, out);
          if (r !== json.delta) edit().delta = r;
          break;
        }
        case 'response.output_text.done': {
          const part = this.part(json.output_index, json.content_index, json.item_id);
          if (!part) break;
          this.settle(part, json, json.text, out);
          if (json.text !== part.sent) edit().text = part.sent;
          break;
        }
        case 'response.content_part.done': {
          const text = this.textOf(json.output_index, json.content_index, json.item_id, json.part, json, out);
          if (text !== undefined) (edit().part as Obj).text = text;
          break;
        }
        case 'response.output_item.done': {
          const item = this.item(json.output_index, json.item, json, out);
          if (item) edit().item = item;
          break;
        }
        default: {
          const response = json.response;
          if (!FINAL.has(json.type) || !isObject(response) || !Array.isArray(response.output)) break;
          let changed = false;
          const output = response.output.map((item, o) => {
            const edited = this.item(o, item, json, out);
            changed ||= edited !== undefined;
            return edited ?? item;
          });
          if (changed) edit().response = { ...response, output };
        }
      }
    } catch (err) {
      if (err instanceof Blocked) return { blocked: err.finding, insert: [], findings: [] };
      throw err;
    }
    if (this.shift > 0 && typeof json.sequence_number === 'number') edit().sequence_number = json.sequence_number + this.shift;
    return copy ? { ...out, replace: copy } : out;
  }

  /** A message item with its `output_text` parts set to what was released; undefined when it carries that already. */
  private item(outputIndex: JsonValue | undefined, item: JsonValue | undefined, event: Obj, out: ResponsesEventResult): Obj | undefined {
    if (!isObject(item) || item.type !== 'message' || !Array.isArray(item.content)) return undefined;
    let changed = false;
    const content = item.content.map((p, c) => {
      const text = this.textOf(outputIndex, c, item.id, p, event, out);
      if (text === undefined) return p;
      changed = true;
      return { ...(p as Obj), text };
    });
    return changed ? { ...item, content } : undefined;
  }

  /** The text an `output_text` part must carry in a later event; undefined when it is already that. */
  private textOf(outputIndex: JsonValue | undefined, contentIndex: JsonValue | undefined, itemId: JsonValue | undefined, p: JsonValue | undefined, event: Obj, out: ResponsesEventResult): string | undefined {
    if (!isObject(p) || p.type !== 'output_text' || typeof p.text !== 'string') return undefined;
    const part = this.part(outputIndex, contentIndex, itemId);
    if (!part) return undefined;
    this.settle(part, event, p.text, out);
    return p.text === part.sent ? undefined : part.sent;
  }

  /**
   * Ends a part's window: what it holds goes out in a delta inserted before `event`. A part that
   * got no deltas at all is scanned whole from the text `event` carries for it.
   */
  private settle(part: Part, event: Obj, text: JsonValue | undefined, out: ResponsesEventResult): void {
    if (part.done) return;
    const whole = !part.streamed && typeof text === 'string';
    const release = this.push(part, whole ? text : '', true, out);
    part.done = true;
    if (whole || release === '') return;
    const seq: Obj = typeof event.sequence_number === 'number' ? { sequence_number: event.sequence_number + this.shift } : {};
    out.insert.push({ type: DELTA, ...seq, ...part.at, delta: release, logprobs: [] });
    this.shift++;
  }

  private push(part: Part, text: string, final: boolean, out: ResponsesEventResult): string {
    const r = part.window.push(text, final);
    if (r.blocked) throw new Blocked(r.blocked);
    out.findings.push(...r.findings);
    part.sent += r.release;
    return r.release;
  }

  /** The state of a part, or null when no rule's paths select its text. */
  private part(outputIndex: JsonValue | undefined, contentIndex: JsonValue | undefined, itemId: JsonValue | undefined): Part | null {
    // Keyed by the provider's values as they are (a Map: any value is a safe key).
    const key = `${JSON.stringify(outputIndex)}:${JSON.stringify(contentIndex)}`;
    let part = this.parts.get(key);
    if (part === undefined) {
      const rules = this.rulesFor(probeIndex(outputIndex), probeIndex(contentIndex));
      const at = { item_id: itemId ?? null, output_index: outputIndex ?? null, content_index: contentIndex ?? null };
      part = rules.length ? { window: new TextWindow(rules, this.limits), at, sent: '', streamed: false, done: false } : null;
      this.parts.set(key, part);
    }
    return part;
  }

  /**
   * The rules whose response paths select this part's text, found by evaluating them on a
   * Response-shaped probe (as `StreamFilter` does with a completion): `$.output[*].content`
   * applies, a chat-only path does not.
   */
  private rulesFor(outputIndex: number, contentIndex: number): CompiledRule[] {
    const content = Array.from({ length: contentIndex + 1 }, () => ({ type: 'output_text', text: '', annotations: [] }));
    const output = Array.from({ length: outputIndex + 1 }, () => ({ type: 'message', role: 'assistant', status: 'completed', content }));
    const probe = { object: 'response', status: 'completed', output };
    const want = ['output', String(outputIndex), 'content', String(contentIndex), 'text'].join('/');
    const rules = new Set<CompiledRule>();
    for (const f of selectFields(probe, this.rules, 'response')) if (f.segments.join('/') === want) for (const r of f.rules) rules.add(r);
    return this.rules.filter((r) => rules.has(r));
  }
}

/** The probe is built from the provider's indexes: bounded, so an absurd one costs nothing (and is still scanned). */
const MAX_PROBE_INDEX = 63;
const probeIndex = (v: JsonValue | undefined): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, MAX_PROBE_INDEX) : 0);

class Blocked extends Error {
  constructor(readonly finding: RuleFinding) {
    super('blocked');
  }
}
