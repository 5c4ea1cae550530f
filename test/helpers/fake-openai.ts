import type http from 'node:http';
import { sendJson, startRecordingServer, type FakeServer, type Handler } from './fake-server';

export { sendJson, type Handler, type RecordedRequest } from './fake-server';
export type FakeOpenAI = FakeServer;

/**
 * A fake OpenAI upstream following the published wire format: POST /v1/chat/completions with
 * `Authorization: Bearer`, JSON answers, SSE `data:` events ending in `data: [DONE]`, and
 * `{"error":{...}}` bodies for errors. Every request is recorded for assertions.
 */

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

/**
 * A handler that streams `pieces` as separate SSE content deltas, a few ms apart so they reach
 * the gateway separately (then the usage chunk, when the request asks for it).
 */
export function streamPieces(pieces: string[]): Handler {
  return async (req, res) => {
    const model = req.json.model;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (c: object) => res.write(`data: ${JSON.stringify(c)}\n\n`);
    send(chunk(model, { role: 'assistant', content: '' }));
    for (const p of pieces) {
      send(chunk(model, { content: p }));
      await new Promise((r) => setTimeout(r, 5));
    }
    send(chunk(model, {}, 'stop'));
    if (req.json.stream_options?.include_usage) send({ ...chunk(model, {}), choices: [], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } });
    res.end('data: [DONE]\n\n');
  };
}

/** Answers a request that offers tools with a call to the first tool, as OpenAI does. */
function toolCall(body: any, res: http.ServerResponse): void {
  const name = body.tools[0].function.name;
  const args = '{"city": "Paris", "unit": "celsius"}';
  const model = body.model;
  const usage = { prompt_tokens: 20, completion_tokens: 7, total_tokens: 27 };
  if (!body.stream) {
    const message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_abc123', type: 'function', function: { name, arguments: args } }] };
    sendJson(res, 200, { ...completion(model, ''), choices: [{ index: 0, message, logprobs: null, finish_reason: 'tool_calls' }], usage });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = (delta: object, finish: string | null = null) => res.write(`data: ${JSON.stringify(chunk(model, delta, finish))}\n\n`);
  send({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_abc123', type: 'function', function: { name, arguments: '' } }] });
  for (const part of [args.slice(0, 9), args.slice(9, 20), args.slice(20)]) send({ tool_calls: [{ index: 0, function: { arguments: part } }] });
  send({}, 'tool_calls');
  if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...chunk(model, {}), choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

const defaultHandler: Handler = async (req, res) => {
  const body = req.json ?? {};
  const model = body.model ?? 'unknown';
  if (Array.isArray(body.tools) && body.tools.length && body.messages?.at(-1)?.role !== 'tool') return toolCall(body, res);
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

export function startFakeOpenAI(): Promise<FakeOpenAI> {
  return startRecordingServer('/v1', async (rec, res, handler) => {
    if (rec.headers.authorization === undefined) {
      sendJson(res, 401, { error: { message: 'You did not provide an API key.', type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    await (handler ?? defaultHandler)(rec, res);
  });
}
