import fs from 'node:fs';
import path from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../src/config/load';
import type { TracingConfig } from '../../src/config/types';
import { Exchange, type Continue, type Directive } from '../../src/core/exchange';
import { Headers } from '../../src/core/headers';
import { UpstreamAttempt } from '../../src/core/upstream-attempt';
import type { JsonObject } from '../../src/domain';
import { createTracer, tracingSettings, type Tracer } from '../../src/observability/tracing';
import { completionText, promptText, truncateUtf8 } from '../../src/observability/tracing-genai';
import { PluginHost } from '../../src/plugins/host';
import { capturingLogger, exchangeDeps, testHost, type TestHost } from './plugins/helpers';
import type { FallbackConfig } from '../../src/config/types';

/**
 * OpenTelemetry tracing (src/observability/tracing.ts) driven through a real Exchange and its
 * upstream attempts, with the spans caught by an in-memory exporter: attributes, parent and
 * child, W3C trace context in (the client's traceparent) and out (the provider's), and no
 * prompt or completion text unless capture_content is on.
 */

const PROVIDERS = [
  { name: 'openai', type: 'openai-compatible', models: ['gpt-*'] },
  { name: 'claude', type: 'anthropic', api_key: 'sk-ant-secret' },
];

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const PROMPT = 'the secret prompt text';
const COMPLETION = 'the private completion text';

const config = (extra: Partial<TracingConfig> = {}): TracingConfig => ({ ...parseConfig({}, '/tmp', {}).tracing, enabled: true, ...extra });

interface Traced {
  h: TestHost;
  ex: Exchange;
  attempts: UpstreamAttempt;
  exporter: InMemorySpanExporter;
  tracer: Tracer;
}

const hosts: TestHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function traced(extra: Partial<TracingConfig> = {}, fallbacks: FallbackConfig[] = []): Promise<Traced> {
  const h = await testHost({ providers: PROVIDERS });
  hosts.push(h);
  const plugins = new PluginHost([...(await h.load(['model-router'])).plugins], h.log);
  const exporter = new InMemorySpanExporter();
  const tracer = createTracer(config(extra), h.log, { spanProcessor: new SimpleSpanProcessor(exporter) })!;
  const deps = exchangeDeps(h, plugins, { fallbacks });
  const attempts = new UpstreamAttempt({ plugins, providers: h.registry, inflight: deps.inflight, log: h.log, tracer });
  return { h, ex: new Exchange({ ...deps, attempts, tracer }), attempts, exporter, tracer };
}

const chat = (model: string, extra: JsonObject = {}): JsonObject => ({ model, messages: [{ role: 'user', content: PROMPT }], ...extra });
const requestHeaders = (extra: Record<string, string> = {}) =>
  new Headers(Object.entries({ ':method': 'POST', ':path': '/v1/chat/completions', authorization: 'Bearer client-secret', 'x-request-id': 'client-request-id', ...extra }));

async function send(t: Traced, body: JsonObject, headers: Record<string, string> = {}): Promise<Directive> {
  await t.ex.requestHeaders(requestHeaders(headers), false);
  return t.ex.requestBody(Buffer.from(JSON.stringify(body)));
}

const edits = (d: Directive): Record<string, string | null> => {
  expect(d.kind).toBe('continue');
  return Object.fromEntries((d as Continue).headers ?? []);
};

const completion = (model: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: COMPLETION }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
});

async function answer(t: Traced, status: number, body: unknown): Promise<void> {
  await t.ex.responseHeaders(new Headers([[':status', String(status)], ['content-type', 'application/json']]), false);
  await t.ex.responseBody(Buffer.from(JSON.stringify(body)), true);
}

const spans = (t: Traced) => t.exporter.getFinishedSpans();
const server = (t: Traced) => spans(t).find((s) => s.kind === SpanKind.SERVER)!;
const clients = (t: Traced) => spans(t).filter((s) => s.kind === SpanKind.CLIENT);
const traceparent = (traceId: string, spanId: string, flags = '01') => `00-${traceId}-${spanId}-${flags}`;

/** Everything a span carries as text: attribute values and event attributes. */
const textOf = (s: ReadableSpan) => JSON.stringify([s.name, s.attributes, s.events.map((e) => [e.name, e.attributes])]);

describe('a request and its upstream attempt', () => {
  test('a SERVER span under the client’s traceparent, a CLIENT span under it, and the provider gets the CLIENT span’s traceparent', async () => {
    const t = await traced();
    const routed = edits(await send(t, chat('gpt-4o', { max_tokens: 50, temperature: 0.2 }), { traceparent: traceparent(TRACE_ID, CLIENT_SPAN), tracestate: 'vendor=abc' }));
    await answer(t, 200, completion('gpt-4o-2024-08-06'));
    t.ex.finish('completed');

    expect(spans(t)).toHaveLength(2);
    const s = server(t);
    const [c] = clients(t);
    // In: the request span continues the client's trace.
    expect(s.spanContext().traceId).toBe(TRACE_ID);
    expect(s.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(s.parentSpanContext?.isRemote).toBe(true);
    // Out: the attempt is the request span's child, and the provider's traceparent names it.
    expect(c.spanContext().traceId).toBe(TRACE_ID);
    expect(c.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
    expect(routed.traceparent).toBe(traceparent(TRACE_ID, c.spanContext().spanId));
    expect(routed.tracestate).toBe('vendor=abc');

    expect(s.name).toBe('chat gpt-4o');
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.stream': false,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 3,
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'url.path': '/v1/chat/completions',
      'gateway.exchange_id': t.ex.ctx.id,
      'gateway.outcome': 'completed',
      'gateway.provider': 'openai',
      'gateway.attempts': 1,
    });
    expect(s.attributes['gen_ai.response.time_to_first_chunk']).toBeUndefined();
    expect(s.attributes['error.type']).toBeUndefined();

    expect(c.name).toBe('chat gpt-4o');
    expect(c.status.code).toBe(SpanStatusCode.UNSET);
    expect(c.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 3,
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': 9,
      'gateway.provider': 'openai',
      'gateway.attempt': 1,
      'gateway.exchange_id': t.ex.ctx.id,
    });
    expect(s.resource.attributes['service.name']).toBe('llm-gateway');
  });

  test('ids are the gateway’s own: the client’s x-request-id is no attribute, and nothing is content by default', async () => {
    const t = await traced();
    await send(t, chat('gpt-4o'), { traceparent: traceparent(TRACE_ID, CLIENT_SPAN) });
    await answer(t, 200, completion('gpt-4o'));
    t.ex.finish('completed');
    for (const s of spans(t)) {
      expect(s.events).toEqual([]);
      expect(textOf(s)).not.toContain('client-request-id');
      expect(textOf(s)).not.toContain('client-secret');
      expect(textOf(s)).not.toContain(PROMPT);
      expect(textOf(s)).not.toContain(COMPLETION);
    }
  });

  test('without a traceparent the request starts a trace, and a lone client tracestate is not passed on', async () => {
    const t = await traced();
    const routed = edits(await send(t, chat('gpt-4o'), { tracestate: 'vendor=stale' }));
    await answer(t, 200, completion('gpt-4o'));
    t.ex.finish('completed');
    const s = server(t);
    const [c] = clients(t);
    expect(s.parentSpanContext).toBeUndefined();
    expect(s.spanContext().traceId).not.toBe(TRACE_ID);
    expect(routed.traceparent).toBe(traceparent(s.spanContext().traceId, c.spanContext().spanId));
    expect(routed.tracestate).toBeNull();
  });

  test('a malformed traceparent is ignored: a new trace, never the client’s value', async () => {
    const t = await traced();
    const routed = edits(await send(t, chat('gpt-4o'), { traceparent: 'not-a-trace-context' }));
    t.ex.finish('cancelled');
    expect(server(t).parentSpanContext).toBeUndefined();
    expect(routed.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test('a provider error: both spans fail with the status', async () => {
    const t = await traced();
    await send(t, chat('gpt-4o'));
    await answer(t, 503, { error: { message: 'overloaded', type: 'server_error' } });
    t.ex.finish('completed');
    const s = server(t);
    const [c] = clients(t);
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    expect(s.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
    expect(c.status.code).toBe(SpanStatusCode.ERROR);
    expect(c.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
  });

  test('a request the gateway refuses (unknown model): a SERVER span only, a 4xx that is not a server error', async () => {
    const t = await traced();
    const d = await send(t, chat('no-such-model'));
    expect(d.kind).toBe('respond');
    t.ex.finish('responded');
    expect(spans(t)).toHaveLength(1);
    const s = server(t);
    expect(s.name).toBe('chat no-such-model');
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404', 'gateway.outcome': 'responded' });
    expect(s.attributes['gen_ai.provider.name']).toBeUndefined();
  });

  test('the client leaves before the answer: the attempt has no response', async () => {
    const t = await traced();
    await send(t, chat('gpt-4o'));
    t.ex.finish('cancelled');
    const [c] = clients(t);
    expect(c.status.code).toBe(SpanStatusCode.ERROR);
    expect(c.attributes['error.type']).toBe('cancelled');
    expect(server(t).attributes).toMatchObject({ 'http.response.status_code': 499, 'gateway.outcome': 'cancelled' });
  });

  test('embeddings and text completions get their operation names', async () => {
    for (const [p, op] of [
      ['/v1/embeddings', 'embeddings'],
      ['/v1/completions', 'text_completion'],
    ] as const) {
      const t = await traced();
      await t.ex.requestHeaders(requestHeaders({ ':path': p }), false);
      await t.ex.requestBody(Buffer.from(JSON.stringify({ model: 'gpt-4o', input: PROMPT, prompt: PROMPT })));
      t.ex.finish('cancelled');
      expect(server(t).name).toBe(`${op} gpt-4o`);
      expect(clients(t)[0].attributes['gen_ai.operation.name']).toBe(op);
    }
  });
});

describe('streams', () => {
  const data = (o: unknown) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
  const chunk = (content: string) => ({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: { content } }] });
  const usage = { id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } };

  async function stream(t: Traced): Promise<void> {
    await send(t, chat('gpt-4o', { stream: true }));
    await t.ex.responseHeaders(new Headers([[':status', '200'], ['content-type', 'text/event-stream']]), false);
    await new Promise((r) => setTimeout(r, 15));
    await t.ex.responseBody(Buffer.from(data(chunk('the private '))), false);
    await t.ex.responseBody(Buffer.from(data(chunk('completion text')) + data(usage) + data('[DONE]')), true);
    t.ex.finish('completed');
  }

  test('time to the first chunk on both spans, tokens from the usage chunk, no text', async () => {
    const t = await traced();
    await stream(t);
    const s = server(t);
    const [c] = clients(t);
    for (const span of [s, c]) {
      expect(span.attributes).toMatchObject({ 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 4, 'gen_ai.response.model': 'gpt-4o-2024-08-06' });
      const ttfc = span.attributes['gen_ai.response.time_to_first_chunk'] as number;
      expect(ttfc).toBeGreaterThanOrEqual(0.01);
      expect(ttfc).toBeLessThan(5);
      expect(textOf(span)).not.toContain('private');
    }
    expect(s.attributes['gen_ai.request.stream']).toBe(true);
  });

  test('capture_content: the prompt and the assembled completion as span events, cut at content_max_bytes', async () => {
    const t = await traced({ capture_content: true });
    await stream(t);
    const events = server(t).events;
    expect(events.map((e) => e.name)).toEqual(['gen_ai.content.prompt', 'gen_ai.content.completion']);
    expect(JSON.parse(events[0].attributes!['gen_ai.prompt'] as string)).toEqual([{ role: 'user', content: PROMPT }]);
    expect(events[1].attributes).toEqual({ 'gen_ai.completion': COMPLETION });

    const small = await traced({ capture_content: true, content_max_bytes: 8 });
    await stream(small);
    const [prompt, done] = server(small).events;
    expect(prompt.attributes).toEqual({ 'gen_ai.prompt': '[{"role"', 'gateway.content_truncated': true });
    expect(done.attributes).toEqual({ 'gen_ai.completion': 'the priv', 'gateway.content_truncated': true });
  });
});

test('capture_content on a buffered answer', async () => {
  const t = await traced({ capture_content: true });
  await send(t, chat('gpt-4o'));
  await answer(t, 200, completion('gpt-4o'));
  t.ex.finish('completed');
  expect(server(t).events.map((e) => [e.name, Object.values(e.attributes!)[0]])).toEqual([
    ['gen_ai.content.prompt', JSON.stringify([{ role: 'user', content: PROMPT }])],
    ['gen_ai.content.completion', COMPLETION],
  ]);
  // The attempt spans never carry content.
  expect(clients(t)[0].events).toEqual([]);
});

test('a fallback: one CLIENT span per attempt, each provider told its own span, the superseded one failed', async () => {
  const t = await traced({}, [{ model: 'gpt-4o', fallback_models: ['claude-3-5-haiku'], on: [503] }]);
  const routed = edits(await send(t, chat('gpt-4o'), { traceparent: traceparent(TRACE_ID, CLIENT_SPAN) }));
  // A chain: the per-attempt streams prepare the attempts; the listener's reply carries no traceparent.
  expect(routed.traceparent).toBeUndefined();
  const first = edits(await t.attempts.requestHeaders('openai', t.ex.ctx.id));
  const second = edits(await t.attempts.requestHeaders('claude', t.ex.ctx.id));
  await answer(t, 200, { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-3-5-haiku-20241022', content: [{ type: 'text', text: COMPLETION }], stop_reason: 'end_turn', usage: { input_tokens: 11, output_tokens: 5 } });
  t.ex.finish('completed');

  const [a, b] = clients(t).sort((x, y) => (x.attributes['gateway.attempt'] as number) - (y.attributes['gateway.attempt'] as number));
  const s = server(t);
  expect(first.traceparent).toBe(traceparent(TRACE_ID, a.spanContext().spanId));
  expect(second.traceparent).toBe(traceparent(TRACE_ID, b.spanContext().spanId));
  for (const c of [a, b]) expect(c.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
  expect(a.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'error.type': 'superseded', 'gateway.attempt': 1 });
  expect(a.status.code).toBe(SpanStatusCode.ERROR);
  expect(b.name).toBe('chat claude-3-5-haiku');
  expect(b.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-3-5-haiku', 'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 5, 'gateway.attempt': 2 });
  expect(b.status.code).toBe(SpanStatusCode.UNSET);
  expect(s.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'gateway.provider': 'claude', 'gateway.attempts': 2, 'gen_ai.request.model': 'gpt-4o' });
});

describe('sampling', () => {
  test('a client’s unsampled trace is followed: nothing recorded, its trace id still reaches the provider', async () => {
    const t = await traced();
    const routed = edits(await send(t, chat('gpt-4o'), { traceparent: traceparent(TRACE_ID, CLIENT_SPAN, '00') }));
    await answer(t, 200, completion('gpt-4o'));
    t.ex.finish('completed');
    expect(spans(t)).toEqual([]);
    expect(routed.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(routed.traceparent).not.toContain(CLIENT_SPAN);
  });

  test('sample_ratio 0: no spans, still a traceparent (unsampled) for the provider', async () => {
    const t = await traced({ sample_ratio: 0, capture_content: true });
    const routed = edits(await send(t, chat('gpt-4o')));
    await answer(t, 200, completion('gpt-4o'));
    t.ex.finish('completed');
    expect(spans(t)).toEqual([]);
    expect(routed.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });
});

describe('configuration', () => {
  test('off by default; off (or OTEL_SDK_DISABLED) there is no tracer', () => {
    const loaded = parseConfig({}, '/tmp', {}).tracing;
    expect(loaded).toEqual({ enabled: false, sample_ratio: 1, capture_content: false, content_max_bytes: 8192 });
    const { log } = capturingLogger();
    expect(createTracer(loaded, log)).toBeUndefined();
    expect(createTracer({ ...loaded, enabled: true }, log, { env: { OTEL_SDK_DISABLED: 'true' } })).toBeUndefined();
  });

  test('invalid values are refused', () => {
    expect(() => parseConfig({ tracing: { sample_ratio: 2 } }, '/tmp', {})).toThrow(/sample_ratio/);
    expect(() => parseConfig({ tracing: { endpoint: 'localhost:4318' } }, '/tmp', {})).toThrow(/endpoint/);
    expect(() => parseConfig({ tracing: { exporter: 'zipkin' } }, '/tmp', {})).toThrow(/exporter/);
  });

  test('endpoint and service name: the configuration, else the OTEL_* variables, else the defaults', () => {
    const c = config();
    expect(tracingSettings(c, {})).toMatchObject({ url: 'http://localhost:4318/v1/traces', serviceName: 'llm-gateway' });
    expect(tracingSettings(c, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'gw-eu' })).toMatchObject({
      url: 'http://collector:4318/v1/traces',
      serviceName: 'gw-eu',
    });
    expect(tracingSettings(c, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).url).toBe('http://b:4318/custom');
    const own = config({ endpoint: 'https://otel.example.com/otlp', service_name: 'mine' });
    expect(tracingSettings(own, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/x', OTEL_SERVICE_NAME: 'env' })).toMatchObject({
      url: 'https://otel.example.com/otlp/v1/traces',
      serviceName: 'mine',
    });
    expect(tracingSettings(config({ endpoint: 'http://c:4318/v1/traces' }), {}).url).toBe('http://c:4318/v1/traces');
  });
});

describe('the hot path with tracing off', () => {
  // (@opentelemetry/api itself, the no-op API, was already loaded before tracing: prom-client uses it.)
  test('neither the processor nor the exchange loads the OpenTelemetry SDK', () => {
    jest.isolateModules(() => {
      for (const pkg of ['@opentelemetry/semantic-conventions', '@opentelemetry/core', '@opentelemetry/sdk-trace-base', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-http']) {
        jest.doMock(pkg, () => {
          throw new Error(`${pkg} was loaded`);
        });
      }
      const { createTracer: create } = require('../../src/observability/tracing') as typeof import('../../src/observability/tracing');
      require('../../src/processor');
      require('../../src/core/exchange');
      expect(create(parseConfig({}, '/tmp', {}).tracing, capturingLogger().log)).toBeUndefined();
      // With tracing on, it is loaded (and the mock says so).
      expect(() => create(config(), capturingLogger().log)).toThrow(/@opentelemetry\/.* was loaded/);
    });
  });

  test('nothing under src/domain, src/providers or plugins imports OpenTelemetry', () => {
    const root = path.resolve(__dirname, '..', '..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.[cm]?[jt]s$/.test(e.name) && /['"]@opentelemetry\//.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(root, p));
      }
    };
    for (const d of ['src/domain', 'src/providers', 'plugins']) walk(path.join(root, d));
    expect(offenders).toEqual([]);
  });
});

describe('content helpers', () => {
  test('prompt and completion text per endpoint', () => {
    expect(promptText('completions', { model: 'm', prompt: 'say hi' })).toBe('say hi');
    expect(promptText('responses', { model: 'm', input: 'hi', instructions: 'be brief' })).toBe('{"instructions":"be brief","input":"hi"}');
    expect(promptText('models', { model: 'm' })).toBeUndefined();
    expect(completionText('completions', { choices: [{ text: 'a' }, { text: 'b' }] })).toBe('a\nb');
    expect(completionText('embeddings', { data: [{ embedding: [0.1] }] })).toBeUndefined();
    const toolCall = { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    expect(completionText('chat.completions', { choices: [{ message: toolCall }] })).toBe(JSON.stringify([toolCall]));
  });

  test('truncation never splits a character', () => {
    expect(truncateUtf8('añb', 2)).toEqual({ text: 'a', truncated: true });
    expect(truncateUtf8('añb', 3)).toEqual({ text: 'añ', truncated: true });
    expect(truncateUtf8('añb', 4)).toEqual({ text: 'añb', truncated: false });
  });
});
