import type http from 'node:http';
import { sendJson as sendJsonBase, startRecordingServer, type FakeServer, type Handler } from './fake-server';

export type { Handler, RecordedRequest } from './fake-server';
export type FakeAnthropic = FakeServer;

/**
 * A fake Anthropic upstream following the published Messages API wire format: POST /v1/messages
 * with `x-api-key` and `anthropic-version: 2023-06-01`, native JSON messages, typed SSE events
 * (`event: <type>` + `data: {...}`, LF framing), and `{"type":"error","error":{type,message}}`
 * error bodies. It validates what the real API rejects (missing max_tokens, broken alternation,
 * tool_use without tool_result, empty text blocks, bad image sources). Every request is recorded.
 *
 * Behaviour: echoes the last user text (`echo: <text>`); answers with a tool call when tools are
 * offered and the last turn is not a tool result (two parallel calls, after a short text block,
 * when 2+ tools are offered); answers a forced tool (structured output) with schema-shaped input;
 * answers JSON when the system prompt asks for JSON; models `error-429`, `error-500` and
 * `error-529` fail in native shape, and `error-stream` fails in the middle of a stream.
 */

export const FAKE_USAGE = { input_tokens: 10, cache_creation_input_tokens: 2, cache_read_input_tokens: 4, output_tokens: 5 };
export const TOOL_ARGS = [
  { city: 'Paris', unit: 'celsius' },
  { city: 'London', unit: 'celsius' },
];

let requestCounter = 0;
const requestId = () => `req_fake${String(++requestCounter).padStart(6, '0')}`;

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  sendJsonBase(res, status, body, { 'request-id': requestId() });
}

export function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId() });
}

/** One SSE event in Anthropic's framing. */
export const sse = (type: string, payload: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

/** What the real API rejects with 400 invalid_request_error; undefined when the body is valid. */
function validate(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'Request body must be a JSON object.';
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (!Number.isInteger(body.max_tokens)) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || !body.messages.length) return 'messages: at least one message is required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: Input should be a valid string or list';
  if (body.tool_choice && !Array.isArray(body.tools)) return 'tool_choice: tool_choice may only be specified while providing tools.';
  for (const t of body.tools ?? []) {
    if (typeof t.name !== 'string' || !t.input_schema || t.input_schema.type !== 'object') return 'tools: invalid tool definition';
  }
  let pending: string[] = [];
  for (let i = 0; i < body.messages.length; i++) {
    const m = body.messages[i];
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i > 0 && body.messages[i - 1].role === m.role) return `messages: roles must alternate between "user" and "assistant" (messages.${i})`;
    const blocks: any[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!Array.isArray(blocks)) return `messages.${i}.content: Input should be a valid list`;
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id);
    if (pending.length) {
      const missing = pending.filter((id) => !results.includes(id));
      if (missing.length) return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}`;
    }
    const unexpected = results.filter((id) => !pending.includes(id));
    if (unexpected.length) return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}`;
    pending = [];
    for (const [j, b] of blocks.entries()) {
      if (b.type === 'text' && (typeof b.text !== 'string' || !b.text)) return `messages.${i}.content.${j}.text: text content blocks must be non-empty`;
      if (b.type === 'image') {
        const s = b.source ?? {};
        if (s.type === 'base64' && !/^image\/(jpeg|png|gif|webp)$/.test(s.media_type)) return `messages.${i}.content.${j}.source.media_type: invalid`;
        if (s.type === 'url' && typeof s.url !== 'string') return `messages.${i}.content.${j}.source.url: Field required`;
        if (s.type !== 'base64' && s.type !== 'url') return `messages.${i}.content.${j}.source.type: invalid`;
      }
      if (b.type === 'tool_use') {
        if (m.role !== 'assistant') return `messages.${i}.content.${j}: tool_use blocks are only allowed in assistant messages`;
        if (!b.input || typeof b.input !== 'object' || Array.isArray(b.input)) return `messages.${i}.content.${j}.input: Input should be a valid dictionary`;
        pending.push(b.id);
      }
      if (b.type === 'tool_result' && m.role !== 'user') return `messages.${i}.content.${j}: tool_result blocks are only allowed in user messages`;
    }
  }
  if (pending.length) return `messages: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${pending.join(', ')}`;
  return undefined;
}

/** A value shaped like a JSON schema (for forced-tool structured output). */
function sample(schema: any, key = ''): unknown {
  switch (schema?.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sample(v, k);
      return out;
    }
    case 'array':
      return [sample(schema.items, key)];
    case 'integer':
    case 'number':
      return 42;
    case 'boolean':
      return true;
    default:
      return Array.isArray(schema?.enum) ? schema.enum[0] : key === 'city' ? 'Paris' : `${key || 'value'} example`;
  }
}

function textOf(content: any): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b: any) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? textOf(b.content) : ''))
    .filter(Boolean)
    .join(' ');
}

/** Decides the answer: content blocks, stop reason and stop sequence. */
function plan(body: any): { content: Block[]; stop_reason: string; stop_sequence: string | null } {
  const last = body.messages[body.messages.length - 1];
  const lastIsToolResult = Array.isArray(last.content) && last.content.some((b: any) => b.type === 'tool_result');
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  const choice = body.tool_choice ?? { type: 'auto' };
  if (tools.length && choice.type !== 'none' && (!lastIsToolResult || choice.type === 'tool')) {
    if (choice.type === 'tool') {
      const tool = tools.find((t) => t.name === choice.name) ?? tools[0];
      const call: Block = { type: 'tool_use', id: 'toolu_fake00', name: tool.name, input: sample(tool.input_schema) };
      return { content: [call], stop_reason: 'tool_use', stop_sequence: null };
    }
    const n = tools.length >= 2 && !choice.disable_parallel_tool_use ? 2 : 1;
    const content: Block[] = [{ type: 'text', text: 'Let me check.' }];
    for (let i = 0; i < n; i++) content.push({ type: 'tool_use', id: `toolu_fake0${i}`, name: tools[i].name, input: TOOL_ARGS[i] });
    return { content, stop_reason: 'tool_use', stop_sequence: null };
  }
  const system = typeof body.system === 'string' ? body.system : textOf(body.system);
  const said = textOf(last.content);
  let text = /\bJSON\b/.test(system) ? JSON.stringify({ echo: said }) : `echo: ${said}`;
  for (const s of body.stop_sequences ?? []) {
    const at = text.indexOf(s);
    if (at >= 0) return { content: text.slice(0, at) ? [{ type: 'text', text: text.slice(0, at) }] : [], stop_reason: 'stop_sequence', stop_sequence: s };
  }
  const words = text.split(' ');
  if (words.length > body.max_tokens) {
    text = words.slice(0, body.max_tokens).join(' ');
    return { content: [{ type: 'text', text }], stop_reason: 'max_tokens', stop_sequence: null };
  }
  return { content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null };
}

/** Splits a string in three roughly equal parts. */
function thirds(s: string): string[] {
  const a = Math.floor(s.length / 3);
  return [s.slice(0, a), s.slice(a, 2 * a), s.slice(2 * a)];
}

const startMessage = (model: string, usage: object) => ({
  id: 'msg_fake01',
  type: 'message',
  role: 'assistant',
  model,
  content: [],
  stop_reason: null,
  stop_sequence: null,
  usage,
});

function stream(body: any, res: http.ServerResponse): void {
  const { content, stop_reason, stop_sequence } = plan(body);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': requestId() });
  const { output_tokens, ...input } = FAKE_USAGE;
  res.write(sse('message_start', { message: startMessage(body.model, { ...input, output_tokens: 1 }) }));
  content.forEach((b, index) => {
    if (b.type === 'text') {
      res.write(sse('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      if (index === 0) res.write(sse('ping', {}));
      for (const piece of b.text.split(/(?<= )/)) res.write(sse('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    } else {
      res.write(sse('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      for (const partial_json of ['', ...thirds(JSON.stringify(b.input))]) {
        res.write(sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } }));
      }
    }
    res.write(sse('content_block_stop', { index }));
  });
  res.write(sse('message_delta', { delta: { stop_reason, stop_sequence }, usage: { output_tokens } }));
  res.end(sse('message_stop', {}));
}

const defaultHandler: Handler = (req, res) => {
  const body = req.json;
  const invalid = validate(body);
  if (invalid) return sendError(res, 400, 'invalid_request_error', invalid);
  if (body.model === 'error-429') return sendError(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.');
  if (body.model === 'error-500') return sendError(res, 500, 'api_error', 'Internal server error');
  if (body.model === 'error-529') return sendError(res, 529, 'overloaded_error', 'Overloaded');
  if (body.stream === true) {
    if (body.model === 'error-stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': requestId() });
      res.write(sse('message_start', { message: startMessage(body.model, { input_tokens: 10, output_tokens: 1 }) }));
      res.end(sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
      return;
    }
    return stream(body, res);
  }
  const { content, stop_reason, stop_sequence } = plan(body);
  sendJson(res, 200, { id: 'msg_fake01', type: 'message', role: 'assistant', model: body.model, content, stop_reason, stop_sequence, usage: FAKE_USAGE });
};

/** POST /v1/messages/count_tokens: `{"input_tokens": N}`, here one token per whitespace-separated word (system and messages), plus 3. */
export function countTokens(body: any, res: http.ServerResponse): void {
  if (typeof body?.model !== 'string' || !body.model) return sendError(res, 400, 'invalid_request_error', 'model: Field required');
  if (!Array.isArray(body.messages) || !body.messages.length) return sendError(res, 400, 'invalid_request_error', 'messages: at least one message is required');
  const system = typeof body.system === 'string' ? body.system : textOf(body.system);
  const words = [system, ...body.messages.map((m: any) => textOf(m.content))].join(' ').split(/\s+/).filter(Boolean).length;
  sendJson(res, 200, { input_tokens: words + 3 });
}

export function startFakeAnthropic(opts: { apiKey?: string } = {}): Promise<FakeAnthropic> {
  return startRecordingServer('/v1', async (rec, res, handler) => {
    const key = rec.headers['x-api-key'];
    if (typeof key !== 'string' || !key) return sendError(res, 401, 'authentication_error', 'x-api-key header is required');
    if (opts.apiKey !== undefined && key !== opts.apiKey) return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    if (!rec.headers['anthropic-version']) return sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const path = rec.path.split('?')[0];
    if (rec.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) return sendError(res, 404, 'not_found_error', 'Not found');
    if (rec.json === undefined) return sendError(res, 400, 'invalid_request_error', 'Request body must be valid JSON.');
    if (path === '/v1/messages/count_tokens') return countTokens(rec.json, res);
    await (handler ?? defaultHandler)(rec, res);
  });
}
