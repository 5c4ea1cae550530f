import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { sendJson, startRecordingServer, type FakeServer, type Handler } from './fake-server';

export type { Handler, RecordedRequest } from './fake-server';
/** `url` is the base URL including the API version path: `http://127.0.0.1:PORT/v2`. */
export type FakeCohere = FakeServer;

/**
 * A fake Cohere API v2 upstream following the published wire format
 * (https://docs.cohere.com/reference/chat, /reference/chat-stream, /reference/embed):
 * `POST /v2/chat` and `POST /v2/embed` with `Authorization: Bearer <key>`, native JSON answers,
 * named SSE events (`event: content-delta` + `data: {"type":"content-delta",...}`) when
 * `stream: true`, and `{"id","message"}` error bodies. Every request is recorded.
 *
 * Behaviour: echoes the last user text (`echo: <text>`); answers with a tool call when tools are
 * offered and the last message is not a tool result (two parallel calls for 2+ tools); JSON
 * content when a JSON response format is asked for; fixed usage; models `error-429` and
 * `error-500` fail with Cohere's own error bodies.
 */

/** Fixed usage: `tokens` is what the gateway reports, `billed_units` differ on purpose. */
export const FAKE_USAGE = { billed_units: { input_tokens: 9, output_tokens: 5 }, tokens: { input_tokens: 14, output_tokens: 5 } };
export const FAKE_EMBED_TOKENS = 4;

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);
/** OpenAI field names Cohere does not know; the real API rejects unknown fields. */
const OPENAI_ONLY = ['top_p', 'stop', 'n', 'max_completion_tokens', 'stream_options', 'parallel_tool_calls', 'user', 'logprobs', 'top_logprobs'];

function cohereError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { id: randomUUID(), message });
}

function lastUserText(messages: any[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.filter((p: any) => p?.type === 'text').map((p: any) => p.text).join(' ');
  }
  return '';
}

/** A value matching a JSON schema well enough for tests. */
function sample(schema: any): unknown {
  switch (schema?.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sample(v);
      return out;
    }
    case 'array':
      return [sample(schema.items)];
    case 'integer':
    case 'number':
      return 42;
    case 'boolean':
      return true;
    default:
      return 'text';
  }
}

function validate(body: any): string | undefined {
  if (typeof body?.model !== 'string') return 'invalid request: model must be a string';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'invalid request: messages must be a non-empty list';
  for (const f of OPENAI_ONLY) if (f in body) return `invalid request: unknown field '${f}'`;
  for (const m of body.messages) {
    if (!ROLES.has(m?.role)) return `invalid request: unknown role '${m?.role}'`;
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') return 'invalid request: tool messages need tool_call_id';
  }
  if (body.tool_choice !== undefined && body.tool_choice !== 'REQUIRED' && body.tool_choice !== 'NONE') {
    return `invalid request: tool_choice must be one of REQUIRED, NONE`;
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return 'invalid request: stream must be a boolean';
  return undefined;
}

type Call = { id: string; type: 'function'; function: { name: string; arguments: string } };

function plan(body: any): { text: string; calls: Call[]; finish: string } {
  const messages: any[] = body.messages;
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  if (tools.length && body.tool_choice !== 'NONE' && messages.at(-1)?.role !== 'tool') {
    const cities = ['Paris', 'Berlin'];
    const calls = tools.slice(0, 2).map((t, i) => ({
      id: `${t.function.name}_${i}abc${i}`,
      type: 'function' as const,
      function: { name: t.function.name, arguments: JSON.stringify({ city: cities[i], unit: 'celsius' }) },
    }));
    return { text: '', calls, finish: 'TOOL_CALL' };
  }
  const last = lastUserText(messages);
  if (body.response_format?.type === 'json_object') {
    const schema = body.response_format.json_schema;
    return { text: JSON.stringify(schema ? sample(schema) : { echo: last }), calls: [], finish: 'COMPLETE' };
  }
  return { text: `echo: ${last}`, calls: [], finish: 'COMPLETE' };
}

function chat(body: any, res: http.ServerResponse): void {
  const { text, calls, finish } = plan(body);
  const id = randomUUID();
  const toolPlan = calls.length ? 'I will look up the weather.' : undefined;
  if (!body.stream) {
    const message: Record<string, unknown> = { role: 'assistant' };
    if (calls.length) {
      message.tool_plan = toolPlan;
      message.tool_calls = calls;
    } else message.content = [{ type: 'text', text }];
    sendJson(res, 200, { id, finish_reason: finish, message, usage: FAKE_USAGE });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (type: string, payload: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`);
  send('message-start', { id, delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } });
  if (calls.length) {
    for (const word of toolPlan!.split(/(?= )/)) send('tool-plan-delta', { delta: { message: { tool_plan: word } } });
    calls.forEach((c, i) => {
      send('tool-call-start', { index: i, delta: { message: { tool_calls: { id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } } } } });
      const a = c.function.arguments;
      for (const part of [a.slice(0, 7), a.slice(7, 16), a.slice(16)]) {
        send('tool-call-delta', { index: i, delta: { message: { tool_calls: { function: { arguments: part } } } } });
      }
      send('tool-call-end', { index: i });
    });
  } else {
    send('content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } });
    for (const piece of text.split(/(?= )/)) send('content-delta', { index: 0, delta: { message: { content: { text: piece } } } });
    send('content-end', { index: 0 });
  }
  send('message-end', { delta: { finish_reason: finish, usage: FAKE_USAGE } });
  res.end();
}

function embed(body: any, res: http.ServerResponse): void {
  if (typeof body?.model !== 'string') return cohereError(res, 400, 'invalid request: model must be a string');
  if (!Array.isArray(body.texts) || !body.texts.every((t: unknown) => typeof t === 'string')) return cohereError(res, 400, 'invalid request: texts must be a list of strings');
  if (typeof body.input_type !== 'string') return cohereError(res, 400, 'invalid request: input_type is required');
  if (!Array.isArray(body.embedding_types) || !body.embedding_types.includes('float')) return cohereError(res, 400, 'invalid request: embedding_types is required');
  if ('input' in body || 'dimensions' in body || 'encoding_format' in body) return cohereError(res, 400, 'invalid request: unknown field');
  const dims = typeof body.output_dimension === 'number' ? body.output_dimension : 4;
  const vectors = body.texts.map((t: string, i: number) => Array.from({ length: dims }, (_, d) => Math.round(((t.length + i + d) % 7) * 125) / 1000));
  sendJson(res, 200, {
    id: randomUUID(),
    texts: body.texts,
    embeddings: { float: vectors },
    meta: { api_version: { version: '2' }, billed_units: { input_tokens: FAKE_EMBED_TOKENS } },
    response_type: 'embeddings_by_type',
  });
}

const defaultHandler: Handler = (req, res) => {
  const body = req.json ?? {};
  if (req.path === '/v2/embed') return embed(body, res);
  if (body.model === 'error-429') return cohereError(res, 429, 'You are using a Trial key, which is limited to 10 API calls / minute.');
  if (body.model === 'error-500') return cohereError(res, 500, 'internal server error, this has been reported to our developers');
  const problem = validate(body);
  if (problem) return cohereError(res, 400, problem);
  chat(body, res);
};

export function startFakeCohere(): Promise<FakeCohere> {
  return startRecordingServer('/v2', async (rec, res, handler) => {
    const auth = rec.headers.authorization;
    if (!auth || !/^bearer\s+\S+/i.test(auth)) return cohereError(res, 401, 'no api key supplied');
    if (rec.method !== 'POST' || (rec.path !== '/v2/chat' && rec.path !== '/v2/embed')) return cohereError(res, 404, `Not Found: ${rec.method} ${rec.path}`);
    if (rec.json === undefined) return cohereError(res, 400, 'invalid request: could not parse JSON body');
    await (handler ?? defaultHandler)(rec, res);
  });
}
