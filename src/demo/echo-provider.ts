import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * The `echo` demo provider: a small OpenAI-compatible server that answers with the last user
 * message, so a machine with no provider credentials can try the gateway end to end.
 */

type Msg = { role?: string; content?: unknown };

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Msg;
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .filter((p: { type?: string; text?: unknown }) => p?.type === 'text' && typeof p.text === 'string')
        .map((p: { text: string }) => p.text)
        .join('\n');
    }
  }
  return '';
}

/** A rough token count (about four characters per token), stable for tests. */
export const approxTokens = (text: string): number => (text ? Math.max(1, Math.ceil(text.length / 4)) : 0);

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function error(res: http.ServerResponse, status: number, message: string, param: string | null = null): void {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', param, code: null } });
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface EchoOptions {
  chunkDelayMs: number;
}

async function chat(res: http.ServerResponse, body: Record<string, unknown>, opts: EchoOptions): Promise<void> {
  const text = lastUserText(body.messages);
  const model = String(body.model);
  const id = `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const created = Math.floor(Date.now() / 1000);
  const promptText = Array.isArray(body.messages) ? JSON.stringify(body.messages) : '';
  const usage = { prompt_tokens: approxTokens(promptText), completion_tokens: approxTokens(text), total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;

  if (body.stream !== true) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
    return;
  }
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const chunk = (delta: object, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const pause = () => (opts.chunkDelayMs > 0 ? new Promise((r) => setTimeout(r, opts.chunkDelayMs)) : Promise.resolve());
  send(chunk({ role: 'assistant', content: '' }, null));
  for (const piece of text.match(/\S+\s*|\s+/g) ?? []) {
    await pause();
    if (res.destroyed) return;
    send(chunk({ content: piece }, null));
  }
  send(chunk({}, 'stop'));
  if (includeUsage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
  res.end('data: [DONE]\n\n');
}

function embeddings(res: http.ServerResponse, body: Record<string, unknown>): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const data = inputs.map((input, index) => {
    const s = String(input);
    const vec = Array.from({ length: 8 }, (_, i) => Number(Math.sin(s.length + i * (s.charCodeAt(i % Math.max(1, s.length)) || 1)).toFixed(6)));
    return { object: 'embedding', index, embedding: vec };
  });
  const tokens = inputs.reduce((n: number, i) => n + approxTokens(String(i)), 0);
  sendJson(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

export function createEchoServer(opts: EchoOptions): http.Server {
  return http.createServer(async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0].replace(/^\/v1/, '');
      if (req.method === 'GET' && path === '/models') {
        sendJson(res, 200, { object: 'list', data: [{ id: 'echo', object: 'model', created: 0, owned_by: 'gateway-demo' }] });
        return;
      }
      if (req.method !== 'POST' || (path !== '/chat/completions' && path !== '/embeddings')) {
        error(res, 404, `Unknown request URL: ${req.method} ${req.url}`);
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        error(res, 400, 'We could not parse the JSON body of your request.');
        return;
      }
      if (typeof body.model !== 'string') return error(res, 400, 'you must provide a model parameter', 'model');
      if (path === '/embeddings') return embeddings(res, body);
      if (!Array.isArray(body.messages)) return error(res, 400, "Missing required parameter: 'messages'.", 'messages');
      await chat(res, body, opts);
    } catch {
      if (!res.headersSent) error(res, 500, 'echo provider failed');
      else res.destroy();
    }
  });
}

export async function startEchoServer(host: string, port: number, opts: EchoOptions): Promise<http.Server> {
  const server = createEchoServer(opts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export const boundPort = (s: http.Server): number => (s.address() as AddressInfo).port;
