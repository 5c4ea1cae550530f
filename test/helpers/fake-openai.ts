import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI upstream following the published wire format: POST /v1/chat/completions with
 * `Authorization: Bearer`, JSON answers, SSE `data:` events ending in `data: [DONE]`, and
 * `{"error":{...}}` bodies for errors. Every request is recorded for assertions.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export type Handler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface FakeOpenAI {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replaces the default behaviour for the next requests. */
  handle(h: Handler | undefined): void;
  close(): Promise<void>;
}

export function completion(model: string, content: string, usage = { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 }) {
  return {
    id: 'chatcmpl-fake123',
    object: 'chat.completion',
    created: 1700000000,
    model,
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  };
}

export function chunk(model: string, delta: object, finish: string | null = null) {
  return { id: 'chatcmpl-fake123', object: 'chat.completion.chunk', created: 1700000000, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

const defaultHandler: Handler = async (req, res) => {
  const body = req.json ?? {};
  const model = body.model ?? 'unknown';
  const last = Array.isArray(body.messages) ? body.messages[body.messages.length - 1]?.content : '';
  if (body.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`data: ${JSON.stringify(chunk(model, { role: 'assistant', content: '' }))}\n\n`);
    for (const word of String(last).split(' ')) res.write(`data: ${JSON.stringify(chunk(model, { content: word }))}\n\n`);
    res.write(`data: ${JSON.stringify(chunk(model, {}, 'stop'))}\n\n`);
    if (body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ ...chunk(model, {}), choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  sendJson(res, 200, completion(model, `echo: ${last}`));
};

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  let handler: Handler | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: any;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const rec = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
    requests.push(rec);
    if (req.headers.authorization === undefined) {
      sendJson(res, 401, { error: { message: 'You did not provide an API key.', type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    await (handler ?? defaultHandler)(rec, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    handle: (h) => (handler = h),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
