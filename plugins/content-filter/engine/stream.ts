import type { JsonValue } from '../../../src/domain';
import type { CompiledRule } from './compile';
import { selectFields } from './fields';
import { maskText, scanText, type RuleFinding, type ScanLimits } from './scan';

export interface StreamLimits extends ScanLimits {
  /** The most text held back while a match is still growing (a PEM block); then it is released masked. */
  maxHoldChars: number;
}

export interface WindowResult {
  blocked?: RuleFinding;
  /** Text that may go to the client now (masked where rules redact). */
  release: string;
  /** `redact` and `flag` matches released with it, each reported once. */
  findings: RuleFinding[];
}

/** Released text kept (unmasked) in front of the window so lookbehinds and `\b` see what came before. */
const CONTEXT_CHARS = 32;

/** How much of a forced-out open match is kept: enough for any built-in's recognisable start. */
const OPEN_HEAD_CHARS = 256;

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/**
 * The hold-back window over one choice's streamed text. A match can be split across SSE
 * events, so the last `windowChars` characters are never released until more text (or the
 * end) shows what they are part of; a match still touching that tail holds everything from
 * its start. Matches are masked when released and counted then, so each is reported once.
 * `block` matches stop the stream as soon as they are seen, even in the held tail.
 */
export class TextWindow {
  private pending = '';
  private context = '';
  /**
   * The start of a match the hold limit forced out before it ended (a huge PEM block): kept
   * in front of the context so the detectors still see one match and mask the rest of it.
   */
  private openHead = '';
  /** Whether that match's mask was already sent (its continuation then masks to nothing). */
  private openMasked = false;

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly limits: StreamLimits,
  ) {}

  get held(): number {
    return this.pending.length;
  }

  push(incoming: string, final: boolean): WindowResult {
    const buf = this.pending + incoming;
    if (buf.length === 0) return { release: '', findings: [] };
    const offset = this.openHead.length + this.context.length;
    const findings: (RuleFinding & { continued: boolean })[] = [];
    for (const f of scanText(this.openHead + this.context + buf, this.rules, this.limits)) {
      // Wholly inside the released context: already handled when it was released.
      if (f.end <= offset) continue;
      findings.push({ ...f, start: Math.max(0, f.start - offset), end: f.end - offset, continued: f.start < offset });
    }
    const blocked = findings.find((f) => f.rule.action === 'block');
    if (blocked) return { blocked, release: '', findings: [] };

    let cut = final ? buf.length : Math.max(0, buf.length - this.limits.windowChars);
    if (!final) {
      // Hold every match that reaches into the tail from its start: it may still grow.
      for (let moved = true; moved; ) {
        moved = false;
        for (const f of findings) {
          if (f.start < cut && f.end > cut) {
            cut = f.start;
            moved = true;
          }
        }
      }
      if (buf.length - cut > this.limits.maxHoldChars) cut = buf.length - this.limits.windowChars;
      // Never split a surrogate pair between two events.
      if (cut > 0 && cut < buf.length && isHighSurrogate(buf.charCodeAt(cut - 1))) cut--;
    }
    const released = findings.filter((f) => f.start < cut);
    // A match cut by the hold limit is masked up to the cut, and its continuation masked later.
    const masks = released
      .filter((f) => f.rule.action === 'redact')
      .map((f) => ({ start: f.start, end: Math.min(f.end, cut), mask: f.continued && this.openMasked ? '' : f.rule.mask(f.label) }));
    const release = maskText(buf.slice(0, cut), masks);

    // Still open after this release: cut by the hold limit, or a continuation still being held.
    const open = findings.find((f) => f.end > cut && (f.start < cut || f.continued));
    if (open) {
      if (!open.continued) this.openHead = buf.slice(open.start, Math.min(cut, open.start + OPEN_HEAD_CHARS));
      this.openMasked = open.rule.action === 'redact';
    } else {
      this.openHead = '';
      this.openMasked = false;
    }
    this.context = (this.context + buf.slice(0, cut)).slice(-CONTEXT_CHARS);
    this.pending = buf.slice(cut);
    return { release, findings: released.filter((f) => f.end <= cut).map(({ continued: _c, ...f }) => f) };
  }
}

type Obj = { [key: string]: JsonValue };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ChoiceState {
  window: TextWindow;
  field: 'content' | 'text';
}

export interface ChunkResult {
  blocked?: RuleFinding;
  /** The chunk to send instead, when held-back or masked text changed it. */
  replace?: JsonValue;
  findings: RuleFinding[];
}

/**
 * Output filtering of one streamed response: OpenAI chat chunks (`choices[*].delta.content`)
 * and legacy completions (`choices[*].text`), one window per choice index. Text delayed by
 * the window is released in later chunks, and the rest when a choice finishes
 * (`finish_reason`) or, failing that, in extra chunks before `[DONE]` (`flush`).
 */
export class StreamFilter {
  private readonly choices = new Map<number, ChoiceState | null>();
  private template: Obj = {};

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly limits: StreamLimits,
  ) {}

  chunk(json: JsonValue | undefined): ChunkResult {
    const findings: RuleFinding[] = [];
    if (!isObject(json) || !Array.isArray(json.choices)) return { findings };
    if (this.template.object === undefined) {
      for (const k of ['id', 'object', 'created', 'model', 'system_fingerprint']) if (json[k] !== undefined) this.template[k] = json[k]!;
    }
    let copy: Obj | undefined;
    for (const [pos, choice] of json.choices.entries()) {
      if (!isObject(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : pos;
      const delta = isObject(choice.delta) ? choice.delta : undefined;
      const field = typeof delta?.content === 'string' ? 'content' : typeof choice.text === 'string' ? 'text' : undefined;
      const state = this.state(index, field ?? (json.object === 'text_completion' ? 'text' : 'content'));
      if (!state) continue;
      const incoming = field === 'content' ? (delta!.content as string) : field === 'text' ? (choice.text as string) : '';
      const final = choice.finish_reason !== undefined && choice.finish_reason !== null;
      if (incoming === '' && !final) continue;
      const r = state.window.push(incoming, final);
      if (r.blocked) return { blocked: r.blocked, findings: [] };
      findings.push(...r.findings);
      if (final) this.choices.delete(index);
      if (r.release === incoming) continue;
      copy ??= structuredClone(json) as Obj;
      const out = (copy.choices as Obj[])[pos]!;
      if (state.field === 'text') out.text = r.release;
      else out.delta = { ...(isObject(out.delta) ? out.delta : {}), content: r.release };
    }
    return copy ? { replace: copy, findings } : { findings };
  }

  /** At the end of the stream: chunks carrying whatever is still held back. */
  flush(): { blocked?: RuleFinding; chunks: JsonValue[]; findings: RuleFinding[] } {
    const chunks: JsonValue[] = [];
    const findings: RuleFinding[] = [];
    for (const [index, state] of this.choices) {
      if (!state || state.window.held === 0) continue;
      const r = state.window.push('', true);
      if (r.blocked) return { blocked: r.blocked, chunks: [], findings: [] };
      findings.push(...r.findings);
      const choice: Obj =
        state.field === 'text'
          ? { index, text: r.release, logprobs: null, finish_reason: null }
          : { index, delta: { content: r.release }, logprobs: null, finish_reason: null };
      chunks.push({ ...this.template, choices: [choice] });
    }
    this.choices.clear();
    return { chunks, findings };
  }

  /** The window of a choice, or null when no rule's paths select that choice's text. */
  private state(index: number, field: 'content' | 'text'): ChoiceState | null {
    let state = this.choices.get(index);
    if (state === undefined) {
      const rules = this.rulesFor(index);
      state = rules.length ? { window: new TextWindow(rules, this.limits), field } : null;
      this.choices.set(index, state);
    }
    return state;
  }

  /**
   * The rules whose response paths select this choice's text, found by evaluating them on a
   * completion-shaped probe whose choice carries the text as `message.content`, `delta.content`
   * and `text`: `$.choices[*].message.content` and `$.choices[0].delta.content` both apply.
   */
  private rulesFor(index: number): CompiledRule[] {
    const choices = Array.from({ length: index + 1 }, (_, i) => ({
      index: i,
      message: { role: 'assistant', content: '' },
      delta: { role: 'assistant', content: '' },
      text: '',
      finish_reason: null,
    }));
    const probe = { ...this.template, choices };
    const rules = new Set<CompiledRule>();
    for (const f of selectFields(probe, this.rules, 'response')) {
      if (f.segments[0] === 'choices' && f.segments[1] === String(index)) for (const r of f.rules) rules.add(r);
    }
    return this.rules.filter((r) => rules.has(r));
  }
}
