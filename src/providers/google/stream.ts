import type { SseEvent } from '../../domain/sse';
import { isObj } from '../shared/json';
import { ChunkFactory, doneEvent, includeUsage, streamErrorEvent } from '../shared/stream';
import type { StreamTranslator, TranslationInput } from '../types';
import type { GeminiCandidate, GeminiResponse, GeminiUsage } from './native';
import { finishReason, geminiError, openAIError, toOpenAIToolCall, toOpenAIUsage } from './response';

/** Chat completions stream (`streamGenerateContent?alt=sse`); embeddings are never streamed. */
export function streamTranslator(input: TranslationInput): StreamTranslator | undefined {
  if (input.endpoint !== 'chat.completions') return undefined;
  return new GeminiStreamTranslator(input.target.model, includeUsage(input.body));
}

interface CandidateState {
  /** Tool calls emitted so far: the next call's ordinal `index`. */
  toolCalls: number;
  finished: boolean;
  reason?: string;
}

/**
 * `streamGenerateContent?alt=sse` → OpenAI chunks. Every Gemini event is a whole
 * GenerateContentResponse fragment: text parts are deltas, function calls arrive complete (one
 * tool-call delta each, with its ordinal index), the last event carries finishReason and
 * usageMetadata. Gemini sends no `[DONE]`; the translator adds it when the stream ends.
 */
export class GeminiStreamTranslator implements StreamTranslator {
  private factory: ChunkFactory | undefined;
  private readonly candidates = new Map<number, CandidateState>();
  private usage: GeminiUsage | undefined;
  private failed = false;
  private ended = false;

  constructor(
    private readonly targetModel: string,
    private readonly includeUsage: boolean,
  ) {}

  private chunks(res?: GeminiResponse): ChunkFactory {
    this.factory ??= new ChunkFactory(res?.modelVersion || this.targetModel, res?.responseId || undefined);
    return this.factory;
  }

  /** State of a candidate; its first sight emits the `role: assistant` chunk. */
  private candidate(index: number, out: SseEvent[]): CandidateState {
    let st = this.candidates.get(index);
    if (!st) {
      st = { toolCalls: 0, finished: false };
      this.candidates.set(index, st);
      out.push(this.chunks().chunk({ role: 'assistant', content: '' }, null, index));
    }
    return st;
  }

  private close(index: number, st: CandidateState, out: SseEvent[]): void {
    if (st.finished) return;
    st.finished = true;
    out.push(this.chunks().chunk({}, finishReason(st.reason, st.toolCalls > 0), index));
  }

  translate(event: SseEvent): SseEvent[] {
    if (this.failed || this.ended) return [];
    const json = event.json;
    if (!isObj(json)) return [];
    const err = geminiError(json);
    if (err) {
      this.failed = true;
      const e = openAIError(json, typeof err.code === 'number' ? err.code : 500);
      return [streamErrorEvent(e.message, e.type, e.code)];
    }
    const res = json as GeminiResponse;
    const f = this.chunks(res);
    if (res.usageMetadata) this.usage = res.usageMetadata;
    const out: SseEvent[] = [];
    let candidates: GeminiCandidate[] = res.candidates ?? [];
    // A blocked prompt has no candidates, only promptFeedback.blockReason.
    if (!candidates.length && res.promptFeedback?.blockReason) candidates = [{ index: 0, finishReason: 'SAFETY' }];
    candidates.forEach((c, pos) => {
      const index = c.index ?? pos;
      const st = this.candidate(index, out);
      if (st.finished) return;
      for (const part of c.content?.parts ?? []) {
        if (part.thought) continue;
        if (typeof part.text === 'string' && part.text) out.push(f.chunk({ content: part.text }, null, index));
        if (part.functionCall) {
          const call = toOpenAIToolCall(part);
          out.push(f.chunk({ tool_calls: [{ index: st.toolCalls++, id: call.id, type: 'function', function: call.function }] }, null, index));
        }
      }
      if (c.finishReason) {
        st.reason = c.finishReason;
        this.close(index, st, out);
      }
    });
    return out;
  }

  finish(): SseEvent[] {
    if (this.ended) return [];
    this.ended = true;
    if (this.failed) return [doneEvent()];
    const out: SseEvent[] = [];
    if (this.candidates.size === 0) this.candidate(0, out);
    for (const [index, st] of this.candidates) this.close(index, st, out);
    if (this.includeUsage) out.push(this.chunks().usage(toOpenAIUsage(this.usage ?? {})));
    out.push(doneEvent());
    return out;
  }
}
