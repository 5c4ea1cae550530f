import { BodyCapture, capBuffer, capText, truncationMarker } from '../../src/core/body-capture';
import { Exchange, type Directive } from '../../src/core/exchange';
import { Headers } from '../../src/core/headers';
import { GatewayError } from '../../src/domain/errors';
import { gatewayLogger, type LogSettings } from '../../src/observability/logger';
import { PluginHost } from '../../src/plugins/host';
import type { PluginHooks } from '../../src/plugins/api';
import type { JsonObject } from '../../src/domain';
import { exchangeDeps, hooksPlugin, testHost, type TestHost } from './plugins/helpers';

/**
 * logging.bodies: the request and response bodies on the per-request log line. The capture
 * itself (caps, UTF-8 boundaries, streams assembled from their deltas), then the Exchange
 * driven phase by phase with a logger made from the logging settings, as the CLI makes it.
 */

describe('caps', () => {
  test('a body within the cap is kept whole; a longer one is cut and says how long it was', () => {
    expect(capText('hello', 5)).toBe('hello');
    expect(capText('hello!', 5)).toBe(`hello${truncationMarker(6)}`);
    expect(capBuffer(Buffer.from('hello!'), 5)).toBe(`hello${truncationMarker(6)}`);
    expect(capText('x'.repeat(100), 1000)).toBe('x'.repeat(100));
  });

  test('never inside a UTF-8 character', () => {
    // "é" is 2 bytes, "👋" 4: a cut inside either backs off to the character before.
    expect(capText('aé', 2)).toBe(`a${truncationMarker(3)}`);
    expect(capText('ab👋c', 4)).toBe(`ab${truncationMarker(7)}`);
    expect(capText('ab👋c', 6)).toBe(`ab👋${truncationMarker(7)}`);
    expect(capBuffer(Buffer.from('ab👋c'), 5)).toBe(`ab${truncationMarker(7)}`);
  });

  test('a known total larger than the text marks it even within the cap', () => {
    expect(capText('abc', 10, 50)).toBe(`abc${truncationMarker(50)}`);
  });
});

describe('BodyCapture', () => {
  const sse = (o: unknown) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
  const delta = (content: string, index = 0) => ({ object: 'chat.completion.chunk', choices: [{ index, delta: { content } }] });

  test('the request body: the client text when no plugin changed it, else the plugins’ body', () => {
    const raw = '{ "model": "m",  "messages": [] }';
    const a = new BodyCapture(100);
    a.requestText(raw);
    a.requestPassed({ model: 'm', messages: [] }, false);
    expect(a.fields()).toEqual({ request_body: raw });
    const b = new BodyCapture(100);
    b.requestText(raw);
    b.requestPassed({ model: 'm', messages: [], user: 'x' }, true);
    expect(b.fields()).toEqual({ request_body: '{"model":"m","messages":[],"user":"x"}' });
  });

  test('no request body is logged until the plugins have passed it', () => {
    const c = new BodyCapture(100);
    c.requestText('{"secret":"x"}');
    expect(c.fields()).toEqual({});
  });

  test('a response body: text as it is, anything else by its type and length, none when empty', () => {
    const c = new BodyCapture(100);
    c.responseBody(Buffer.from('{"ok":true}'), 'application/json');
    expect(c.fields()).toEqual({ response_body: '{"ok":true}' });
    c.responseBody(Buffer.from([1, 2, 3]), 'audio/mpeg');
    expect(c.fields()).toEqual({ response_body: '[audio/mpeg body: 3 bytes]' });
    c.responseBody(Buffer.alloc(0), 'application/json');
    expect(c.fields()).toEqual({});
  });

  test('a stream is its assembled text, whatever the network framing', () => {
    const c = new BodyCapture(1000);
    c.streamStarted();
    const text = sse({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }) + sse(delta('Hel')) + sse(delta('lo, ')) + sse(delta('wörld')) + sse('[DONE]');
    for (let i = 0; i < text.length; i += 7) c.streamed(text.slice(i, i + 7), false);
    c.streamed('', true);
    expect(c.fields()).toEqual({ response_body: 'Hello, wörld' });
  });

  test('several choices are assembled each, in choice order; legacy completions and Responses deltas too', () => {
    const c = new BodyCapture(1000);
    c.streamStarted();
    c.streamed(sse(delta('b1', 1)) + sse(delta('a1', 0)) + sse(delta('b2', 1)) + sse(delta('a2', 0)), true);
    expect(c.fields().response_body).toBe('a1a2\n\nb1b2');
    const legacy = new BodyCapture(1000);
    legacy.streamStarted();
    legacy.streamed(sse({ object: 'text_completion', choices: [{ index: 0, text: 'once ' }] }) + sse({ choices: [{ index: 0, text: 'upon' }] }), true);
    expect(legacy.fields().response_body).toBe('once upon');
    const responses = new BodyCapture(1000);
    responses.streamStarted();
    responses.streamed(`event: response.output_text.delta\n${sse({ type: 'response.output_text.delta', delta: 'Hi' })}` + sse({ type: 'response.completed' }), true);
    expect(responses.fields().response_body).toBe('Hi');
  });

  test('an error event in a stream is kept after the text', () => {
    const c = new BodyCapture(1000);
    c.streamStarted();
    const err = { error: { message: 'blocked', type: 'invalid_request_error', code: 'content_filtered' } };
    c.streamed(sse(delta('partial')) + sse(err) + sse('[DONE]'), true);
    expect(c.fields().response_body).toBe(`partial\n${JSON.stringify(err)}`);
  });

  test('a long stream stops being kept at the cap, and its marker gives the whole length', () => {
    const c = new BodyCapture(10);
    c.streamStarted();
    for (let i = 0; i < 100; i++) c.streamed(sse(delta('abcd')), false);
    c.streamed('', true);
    expect(c.fields().response_body).toBe(`abcdabcdab${truncationMarker(400)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the Exchange

const hosts: TestHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

type BodySettings = { enabled: boolean; max_bytes: number };
const settings: LogSettings = { level: 'info', file: { enabled: false, path: 'x.log' } };

interface Gateway {
  ex: Exchange;
  /** The lines logged so far. */
  lines: Record<string, any>[];
  /** The per-request log line, once the exchange finished. */
  line(): Record<string, any>;
}

async function gateway(bodies: Partial<BodySettings>, hooks: PluginHooks[] = []): Promise<Gateway> {
  const h = await testHost({ providers: [{ name: 'openai', type: 'openai-compatible', models: ['gpt-*'] }] });
  hosts.push(h);
  const lines: Record<string, any>[] = [];
  const { log } = gatewayLogger(settings, '/tmp', { write: (l: string) => void lines.push(JSON.parse(l)) });
  const builtins = await h.load(['model-router']);
  const plugins = new PluginHost([...builtins.plugins, ...hooks.map((hk, i) => hooksPlugin(`test-${i}`, hk))], log);
  const deps = exchangeDeps(h, plugins, { log, logBodies: bodies.enabled === false ? undefined : { maxBytes: bodies.max_bytes ?? 16384 } });
  return {
    ex: new Exchange(deps),
    lines,
    line: () => {
      const found = lines.filter((l) => l.msg === 'request');
      expect(found).toHaveLength(1);
      return found[0];
    },
  };
}

const headers = (h: Record<string, string>) => new Headers(Object.entries(h));
const chat = (content: string, extra: JsonObject = {}): JsonObject => ({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra });

async function send(g: Gateway, body: string | JsonObject): Promise<Directive> {
  await g.ex.requestHeaders(headers({ ':method': 'POST', ':path': '/v1/chat/completions', authorization: 'Bearer sk-client-secret' }), false);
  return g.ex.requestBody(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
}

const redact: PluginHooks = {
  onRequest: (ctx) => {
    const body = ctx.request.body!;
    ctx.setRequestBody(JSON.parse(JSON.stringify(body).replace(/sk-[a-z0-9-]+/g, '[REDACTED]')) as JsonObject);
  },
};

describe('the per-request log line', () => {
  test('off (the default): no body fields, and nothing is captured', async () => {
    const { ex, lines } = await gateway({ enabled: false });
    expect((ex as unknown as { capture: unknown }).capture).toBeUndefined();
    await ex.requestHeaders(headers({ ':method': 'POST', ':path': '/v1/chat/completions' }), false);
    await ex.requestBody(Buffer.from(JSON.stringify(chat('hi'))));
    await ex.responseHeaders(headers({ ':status': '200', 'content-type': 'application/json' }), false);
    await ex.responseBody(Buffer.from('{"choices":[]}'), true);
    ex.finish('completed');
    const line = lines.find((l) => l.msg === 'request')!;
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty('request_body');
    expect(line).not.toHaveProperty('response_body');
  });

  test('buffered: the request after the plugins (redacted), the response as the client got it; headers never', async () => {
    const g = await gateway({}, [redact]);
    expect((await send(g, chat('my key is sk-live-abc123'))).kind).toBe('continue');
    await g.ex.responseHeaders(headers({ ':status': '200', 'content-type': 'application/json', 'set-cookie': 'session=s3cret' }), false);
    const answer = { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] };
    await g.ex.responseBody(Buffer.from(JSON.stringify(answer)), true);
    g.ex.finish('completed');
    const line = g.line();
    expect(JSON.parse(line.request_body)).toEqual(chat('my key is [REDACTED]'));
    expect(JSON.parse(line.response_body)).toEqual(answer);
    const text = JSON.stringify(line);
    for (const secret of ['sk-live-abc123', 'sk-client-secret', 's3cret', 'sk-openai-secret']) expect(text).not.toContain(secret);
  });

  test('a body a plugin changed on the way back is logged as changed', async () => {
    const g = await gateway({}, [{ onResponse: (ctx) => ctx.setResponseBody({ replaced: true }) }]);
    await send(g, chat('hi'));
    await g.ex.responseHeaders(headers({ ':status': '200', 'content-type': 'application/json' }), false);
    await g.ex.responseBody(Buffer.from('{"original":true}'), true);
    g.ex.finish('completed');
    expect(g.line().response_body).toBe('{"replaced":true}');
  });

  test('error bodies: the provider’s, and the gateway’s own replies', async () => {
    const upstream = await gateway({});
    await send(upstream, chat('hi'));
    await upstream.ex.responseHeaders(headers({ ':status': '429', 'content-type': 'application/json' }), false);
    const err = '{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}';
    await upstream.ex.responseBody(Buffer.from(err), true);
    upstream.ex.finish('completed');
    expect(upstream.line()).toMatchObject({ status: 429, response_body: err });

    const refused = await gateway({}, [{ onRequest: () => { throw new GatewayError(400, 'content_filtered', 'The request was blocked.'); } }]);
    await send(refused, chat('my key is sk-live-abc123'));
    refused.ex.finish('responded');
    const line = refused.line();
    // The request a plugin refused is not logged: its body is what it was refused for.
    expect(line).not.toHaveProperty('request_body');
    expect(JSON.parse(line.response_body)).toMatchObject({ error: { code: 'content_filtered' } });
    expect(JSON.stringify(line)).not.toContain('sk-live-abc123');

    const invalid = await gateway({});
    await send(invalid, '{"model": "gpt-4o", "messages": [');
    invalid.ex.finish('responded');
    expect(invalid.line()).not.toHaveProperty('request_body');
    expect(JSON.parse(invalid.line().response_body)).toMatchObject({ error: { code: 'invalid_json' } });
  });

  test('streamed: the assembled text of what the client got, after chunk hooks', async () => {
    const upper: PluginHooks = {
      onResponseChunk: (_ctx, ev) => {
        const json = ev.json as any;
        if (json?.choices?.[0]?.delta?.content) {
          json.choices[0].delta.content = String(json.choices[0].delta.content).replace('secret', '[REDACTED]');
          ev.replace(json);
        }
      },
    };
    const g = await gateway({}, [upper]);
    await send(g, chat('hi', { stream: true }));
    await g.ex.responseHeaders(headers({ ':status': '200', 'content-type': 'text/event-stream' }), false);
    const ev = (content: string) => `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
    const wire = ev('The ') + ev('secret') + ev(' is out') + 'data: [DONE]\n\n';
    await g.ex.responseBody(Buffer.from(wire.slice(0, 30)), false);
    await g.ex.responseBody(Buffer.from(wire.slice(30)), true);
    g.ex.finish('completed');
    const line = g.line();
    expect(line.response_body).toBe('The [REDACTED] is out');
    expect(line.streamed).toBe(true);
  });

  test('truncated: each body at max_bytes, with the marker', async () => {
    const g = await gateway({ max_bytes: 64 });
    const long = 'x'.repeat(500);
    await send(g, chat(long));
    await g.ex.responseHeaders(headers({ ':status': '200', 'content-type': 'application/json' }), false);
    const answer = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: long } }] });
    await g.ex.responseBody(Buffer.from(answer), true);
    g.ex.finish('completed');
    const line = g.line();
    const requestBytes = Buffer.byteLength(JSON.stringify(chat(long)));
    expect(line.request_body).toBe(JSON.stringify(chat(long)).slice(0, 64) + truncationMarker(requestBytes));
    expect(line.response_body).toBe(answer.slice(0, 64) + truncationMarker(answer.length));
  });
});
