import type { JsonObject, JsonValue } from '../../domain';
import { int, isObj, mintId, str, type Obj } from '../json';
import type { SurfaceReplyContext } from '../types';

/** OpenAI chat usage → Responses usage. */
export function responsesUsage(u: JsonValue | undefined): Obj {
  const usage = isObj(u) ? u : {};
  const input = int(usage.prompt_tokens);
  const output = int(usage.completion_tokens);
  const cached = isObj(usage.prompt_tokens_details) ? int(usage.prompt_tokens_details.cached_tokens) : 0;
  const reasoning = isObj(usage.completion_tokens_details) ? int(usage.completion_tokens_details.reasoning_tokens) : 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: usage.total_tokens === undefined ? input + output : int(usage.total_tokens),
  };
}

/** A finish reason → the Response's `status` and `incomplete_details`. */
export function completion(finish: JsonValue | undefined): { status: string; incomplete_details: Obj | null } {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export const textPart = (text: string): Obj => ({ type: 'output_text', text, annotations: [], logprobs: [] });

/** The Response object's fields that echo the request (as OpenAI's answers do). */
export function responseObject(id: string, created: number, ctx: SurfaceReplyContext, fields: Obj): Obj {
  const req = ctx.request ?? {};
  const format = isObj(req.text) && isObj(req.text.format) ? req.text.format : { type: 'text' };
  return {
    id,
    object: 'response',
    created_at: created,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: typeof req.max_output_tokens === 'number' ? req.max_output_tokens : null,
    metadata: isObj(req.metadata) ? req.metadata : {},
    model: ctx.requestedModel ?? str(req.model) ?? '',
    output: [],
    parallel_tool_calls: req.parallel_tool_calls !== false,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: typeof req.temperature === 'number' ? req.temperature : 1,
    text: { format },
    tool_choice: req.tool_choice ?? 'auto',
    tools: Array.isArray(req.tools) ? req.tools : [],
    top_p: typeof req.top_p === 'number' ? req.top_p : 1,
    truncation: 'disabled',
    usage: null,
    user: str(req.user) ?? null,
    ...fields,
  };
}

/** `chatcmpl-abc` → `resp_abc` (the provider's id when it gave one, else minted). */
export function responseId(id: JsonValue | undefined): string {
  const s = str(id);
  return s ? `resp_${s.replace(/^chatcmpl-/, '')}` : mintId('resp_');
}

/** A chat completion → a Response. */
export function responsesResponse(body: JsonValue, ctx: SurfaceReplyContext): JsonValue {
  if (!isObj(body) || !Array.isArray(body.choices)) return body;
  const choice = body.choices.find(isObj) ?? {};
  const msg = isObj(choice.message) ? choice.message : {};
  const output: Obj[] = [];
  const text = str(msg.content);
  const { status, incomplete_details } = completion(choice.finish_reason);
  if (text) output.push({ type: 'message', id: mintId('msg_'), status, role: 'assistant', content: [textPart(text)] });
  for (const call of Array.isArray(msg.tool_calls) ? msg.tool_calls : []) {
    if (!isObj(call) || !isObj(call.function)) continue;
    const callId = str(call.id) ?? mintId('call_');
    output.push({ type: 'function_call', id: mintId('fc_'), call_id: callId, name: str(call.function.name) ?? '', arguments: str(call.function.arguments) ?? '{}', status: 'completed' });
  }
  const created = typeof body.created === 'number' ? body.created : Math.floor(Date.now() / 1000);
  return responseObject(responseId(body.id), created, ctx, { status, incomplete_details, output, usage: responsesUsage(body.usage) }) as JsonObject;
}
