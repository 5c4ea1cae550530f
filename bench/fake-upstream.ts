/**
 * A fake OpenAI-compatible upstream for the benchmark: answers `POST .../chat/completions`
 * with a fixed small completion, or with a few SSE chunks and `data: [DONE]` when the
 * request asks for `stream: true`. Keep-alive, loopback only.
 *
 * Run as a child process (`node dist/bench/fake-upstream.js`, forked with an IPC channel) so
 * that it has its own event loop and does not share one with the load generator. It reports
 * `{ type: 'listening', port }` once listening, answers `{ type: 'stats' }` with the number of
 * completions served, takes `{ type: 'config', eventGapMs }` (answered with `{ type: 'config' }`)
 * to space SSE events by a timer instead of one event-loop turn, and exits when the parent goes
 * away.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstreamMessage {
  type: 'listening' | 'stats' | 'config';
  port?: number;
  served?: number;
}

const CREATED = Math.floor(Date.now() / 1000);
const CONTENT = 'Hello! This is a fixed reply from the fake upstream.';
const USAGE = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };

/** The non-streaming body, cached per model name (the gateway may rewrite the model). */
const bodies = new Map<string, Buffer>();
function completionBody(model: string): Buffer {
  let body = bodies.get(model);
  if (!body) {
    body = Buffer.from(
      JSON.stringify({
        id: 'chatcmpl-bench0000000000000000000001',
        object: 'chat.completion',
        created: CREATED,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: CONTENT }, logprobs: null, finish_reason: 'stop' }],
        usage: USAGE,
        system_fingerprint: 'fp_bench',
      }),
    );
    if (bodies.size < 64) bodies.set(model, body);
  }
  return body;
}

function streamEvents(model: string, includeUsage: boolean): string[] {
  const base = { id: 'chatcmpl-bench0000000000000000000002', object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_bench' };
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' }, null)];
  for (const piece of ['Hello!', ' This is', ' a streamed', ' reply.']) events.push(chunk({ content: piece }, null));
  events.push(chunk({}, 'stop'));
  if (includeUsage) events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: USAGE })}\n\n`);
  events.push('data: [DONE]\n\n');
  return events;
}

function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
}

export function createFakeUpstream(): { server: http.Server; served: () => number; setEventGap: (ms: number) => void } {
  let served = 0;
  let eventGapMs = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
        sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}`, type: 'invalid_request_error' } });
        return;
      }
      let parsed: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        sendJson(res, 400, { error: { message: 'request body is not JSON', type: 'invalid_request_error' } });
        return;
      }
      served++;
      const model = typeof parsed.model === 'string' ? parsed.model : 'unknown';
      if (parsed.stream !== true) {
        const body = completionBody(model);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const events = streamEvents(model, parsed.stream_options?.include_usage === true);
      // One event per event-loop turn, so the chunks tend to leave as separate writes; with a
      // gap, far enough apart that a proxy which joins them is the one coalescing.
      let i = 0;
      const gap = eventGapMs;
      const next = () => {
        if (res.destroyed) return;
        if (i === events.length - 1) {
          res.end(events[i]);
          return;
        }
        res.write(events[i++]);
        if (gap > 0) setTimeout(next, gap);
        else setImmediate(next);
      };
      next();
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  return { server, served: () => served, setEventGap: (ms) => (eventGapMs = ms) };
}

if (require.main === module) {
  const { server, served, setEventGap } = createFakeUpstream();
  const send = (msg: FakeUpstreamMessage) => process.send?.(msg);
  server.listen(Number(process.env.FAKE_UPSTREAM_PORT ?? 0), '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port;
    if (process.send) send({ type: 'listening', port });
    else process.stdout.write(`fake upstream listening on http://127.0.0.1:${port}/v1\n`);
  });
  process.on('message', (msg: { type?: string; eventGapMs?: number }) => {
    if (msg?.type === 'stats') send({ type: 'stats', served: served() });
    if (msg?.type === 'config') {
      setEventGap(Math.max(0, Number(msg.eventGapMs) || 0));
      send({ type: 'config' });
    }
  });
  // The parent went away (even by SIGKILL): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
