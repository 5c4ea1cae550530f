import { randomBytes } from 'node:crypto';
import { chat, startGateway, waitFor, type RunningGateway } from '../helpers/gateway';
import { sendJson, startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { SPAN_KIND, STATUS_ERROR, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';

/**
 * OpenTelemetry traces through real Envoy: the gateway exports over OTLP/HTTP (JSON) to a
 * receiver started here. A client's traceparent is continued, every provider request carries a
 * traceparent naming its attempt's span (same trace), spans carry the GenAI attributes and token
 * counts, a stream has its time to first chunk, no message text is in any span, and what is
 * still buffered is flushed when the gateway stops.
 */

const PROMPT = 'tell nobody this secret prompt';

let otlp: OtlpReceiver;
let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gw: RunningGateway;

const traceId = () => randomBytes(16).toString('hex');
const spanId = () => randomBytes(8).toString('hex');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

beforeAll(async () => {
  [otlp, openai, anthropic] = await Promise.all([startOtlpReceiver(), startFakeOpenAI(), startFakeAnthropic({ apiKey: 'sk-anthropic' })]);
  gw = await startGateway({
    config: {
      providers: [
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai', models: ['gpt-*'] },
        { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-anthropic', models: ['claude-*'] },
      ],
      fallbacks: [{ model: 'gpt-4o-fb', fallback_models: ['claude-sonnet-4-5'], on: [503] }],
      tracing: { enabled: true, endpoint: otlp.url, service_name: 'gateway-under-test' },
    },
    // Short batches, so each test sees its spans quickly.
    env: { OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([otlp?.close(), openai?.close(), anthropic?.close()]);
});

beforeEach(() => {
  openai.reset();
  anthropic.reset();
});

/** The trace's spans once its SERVER span and `clients` CLIENT spans have arrived. */
async function traceOf(id: string, clients = 1): Promise<{ server: ReceivedSpan; clients: ReceivedSpan[] }> {
  return waitFor(() => {
    const spans = otlp.spans.filter((s) => s.traceId === id);
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER);
    const cs = spans.filter((s) => s.kind === SPAN_KIND.CLIENT).sort((a, b) => Number(a.attributes['gateway.attempt']) - Number(b.attributes['gateway.attempt']));
    return server && cs.length >= clients ? { server, clients: cs } : undefined;
  }, 15000);
}

const ask = (body: object, headers: Record<string, string> = {}) => chat(gw.url, { messages: [{ role: 'user', content: PROMPT }], ...body }, headers);

test('the client’s trace is continued, and the provider gets a traceparent in the same trace naming the attempt span', async () => {
  const tid = traceId();
  const parent = spanId();
  const res = await ask({ model: 'gpt-4o', max_tokens: 20 }, { traceparent: `00-${tid}-${parent}-01`, 'x-request-id': 'client-chosen-id' });
  expect(res.status).toBe(200);
  await res.json();

  const { server, clients } = await traceOf(tid);
  expect(server.parentSpanId).toBe(parent);
  expect(server.name).toBe('chat gpt-4o');
  expect(server.resource['service.name']).toBe('gateway-under-test');
  expect(server.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.request.max_tokens': 20,
    'gen_ai.response.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 9,
    'gen_ai.usage.output_tokens': 3,
    'http.response.status_code': 200,
    'gateway.outcome': 'completed',
    'gateway.provider': 'openai',
  });
  // The gateway's own id, not the client's.
  expect(server.attributes['gateway.exchange_id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.stringify(server)).not.toContain('client-chosen-id');
  expect(server.status.code).not.toBe(STATUS_ERROR);

  const [attempt] = clients;
  expect(attempt.parentSpanId).toBe(server.spanId);
  expect(attempt.name).toBe('chat gpt-4o');
  expect(attempt.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'server.address': '127.0.0.1', 'server.port': openai.port, 'http.response.status_code': 200, 'gen_ai.usage.input_tokens': 9 });

  // What the provider received: the attempt span as parent, the client's trace id.
  expect(openai.requests).toHaveLength(1);
  const sent = TRACEPARENT.exec(String(openai.requests[0].headers.traceparent));
  expect(sent?.[1]).toBe(tid);
  expect(sent?.[2]).toBe(attempt.spanId);
  expect(otlp.contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);
});

test('a streamed request has its time to first chunk and its tokens', async () => {
  const tid = traceId();
  const res = await ask({ model: 'gpt-4o-mini', stream: true }, { traceparent: `00-${tid}-${spanId()}-01` });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('[DONE]');

  const { server, clients } = await traceOf(tid);
  for (const span of [server, clients[0]]) {
    expect(span.attributes).toMatchObject({ 'gen_ai.usage.input_tokens': 9, 'gen_ai.usage.output_tokens': 3, 'gen_ai.response.model': 'gpt-4o-mini' });
    expect(span.attributes['gen_ai.response.time_to_first_chunk']).toEqual(expect.any(Number));
    expect(span.attributes['gen_ai.response.time_to_first_chunk'] as number).toBeGreaterThan(0);
  }
  expect(server.attributes['gen_ai.request.stream']).toBe(true);
  expect(TRACEPARENT.exec(String(openai.requests[0].headers.traceparent))?.[2]).toBe(clients[0].spanId);
});

test('without a traceparent the gateway starts the trace, and the provider is in it', async () => {
  const res = await ask({ model: 'gpt-4o' });
  expect(res.status).toBe(200);
  const sent = TRACEPARENT.exec(String(openai.requests[0].headers.traceparent));
  expect(sent).not.toBeNull();
  const { server, clients } = await traceOf(sent![1]);
  expect(server.parentSpanId).toBeUndefined();
  expect(clients[0].spanId).toBe(sent![2]);
});

test('a fallback: one CLIENT span per attempt, each provider told its own, the first one failed', async () => {
  openai.handle((_req, res) => sendJson(res, 503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } }));
  const tid = traceId();
  const res = await ask({ model: 'gpt-4o-fb' }, { traceparent: `00-${tid}-${spanId()}-01` });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-gateway-served-by')).toBe('anthropic/claude-sonnet-4-5');

  const { server, clients } = await traceOf(tid, 2);
  expect(clients).toHaveLength(2);
  const [first, second] = clients;
  expect(first.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-fb', 'error.type': 'superseded' });
  expect(first.status.code).toBe(STATUS_ERROR);
  expect(second.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5', 'http.response.status_code': 200 });
  expect(second.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
  expect(server.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'gpt-4o-fb', 'gateway.attempts': 2 });
  for (const c of clients) expect(c.parentSpanId).toBe(server.spanId);

  expect(TRACEPARENT.exec(String(openai.requests[0].headers.traceparent))?.slice(1)).toEqual([tid, first.spanId]);
  expect(TRACEPARENT.exec(String(anthropic.requests[0].headers.traceparent))?.slice(1)).toEqual([tid, second.spanId]);
});

test('no message text in any span by default', async () => {
  const tid = traceId();
  expect((await ask({ model: 'gpt-4o', stream: true }, { traceparent: `00-${tid}-${spanId()}-01` })).status).toBe(200);
  await traceOf(tid);
  const text = JSON.stringify(otlp.spans);
  expect(text).not.toContain(PROMPT);
  expect(text).not.toContain('secret');
  expect(text).not.toContain('echo:');
  expect(text).not.toContain('sk-openai');
  expect(text).not.toContain('sk-anthropic');
  expect(text).not.toContain('sk-test-client-key');
  expect(otlp.spans.every((s) => s.events.length === 0)).toBe(true);
});

describe('shutdown', () => {
  test('spans still buffered are flushed when the gateway stops', async () => {
    const receiver = await startOtlpReceiver();
    const fake = await startFakeOpenAI();
    const g = await startGateway({
      config: {
        providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-openai', models: ['gpt-*'] }],
        tracing: { enabled: true, endpoint: receiver.url },
      },
      // No scheduled export during the test: only the shutdown can send them.
      env: { OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    try {
      const tid = traceId();
      const res = await chat(g.url, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { traceparent: `00-${tid}-${spanId()}-01` });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.spans).toEqual([]);
      expect(await g.stop()).toBe(0);
      const kinds = receiver.spans.filter((s) => s.traceId === tid).map((s) => s.kind).sort();
      expect(kinds).toEqual([SPAN_KIND.SERVER, SPAN_KIND.CLIENT]);
    } finally {
      await g.stop();
      await Promise.all([receiver.close(), fake.close()]);
    }
  });
});
