import pino from 'pino';
import { InFlight } from '../../src/core/attempts';
import { UpstreamAttempt } from '../../src/core/upstream-attempt';
import { ExtProcSession, outcomeOf, type StreamEnd } from '../../src/envoy/extproc/session';
import type { ProcessingRequest } from '../../src/envoy/extproc/messages';
import { GatewayMetrics } from '../../src/observability/metrics';
import { PluginHost } from '../../src/plugins/host';
import type { RequestContext } from '../../src/plugins/api';
import type { ExchangeOutcome } from '../../src/domain';
import { ProviderRegistry, toRuntime } from '../../src/control/provider-registry';
import { BatchWriter } from '../../src/store/batch-writer';

/** What a usage record says about how a request ended, and that none is lost at shutdown. */

const log = pino({ level: 'silent' });
const providers = new ProviderRegistry([
  toRuntime({ name: 'up', type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-up', models: ['gpt-*'], headers: {}, timeout_seconds: 0 }),
]);
const hdrs = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** A whole buffered exchange as Envoy sends it; the last message gets the final reply. */
const EXCHANGE: ProcessingRequest[] = [
  { request: 'request_headers', request_headers: { headers: hdrs({ ':method': 'POST', ':path': '/v1/chat/completions' }) } },
  { request: 'request_body', request_body: { body: json({ model: 'gpt-4o', messages: [] }), end_of_stream: true } },
  { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'application/json' }) } },
  {
    request: 'response_body',
    response_body: { body: json({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }), end_of_stream: true },
  },
];

/** Feeds `messages`, ends the stream with `end`; returns the outcome onComplete saw, before and after the end. */
async function run(messages: ProcessingRequest[], end: StreamEnd) {
  let seen: ExchangeOutcome | undefined;
  let status: number | undefined;
  const hooks = {
    onRequest: (ctx: RequestContext) => void (ctx.target = providers.resolve(ctx.request.model!)),
    onComplete: (ctx: RequestContext) => {
      seen = ctx.outcome;
      status = ctx.finalStatus;
    },
  };
  const plugins = new PluginHost([{ name: 'p', hooks, timeoutMs: 100, onError: 'fail_closed' as const }], log);
  const inflight = new InFlight();
  const deps = {
    plugins,
    providers,
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    log,
    routingHeader: 'x-gateway-cluster',
    inflight,
    attempts: new UpstreamAttempt({ plugins, providers, inflight, log }),
    planRoute: (_ctx: unknown, t: any) => ({ cluster: providers.get(t.provider)!.cluster, targets: [t] }),
  };
  const session = new ExtProcSession(deps, { send: () => undefined });
  for (const m of messages) session.receive(m);
  await session.settled();
  const before = seen;
  await session.close(end);
  return { before, after: seen, status };
}

describe('outcome of an exchange', () => {
  test.each<[StreamEnd, boolean, ExchangeOutcome]>([
    ['ended', true, 'completed'],
    ['cancelled', true, 'interrupted'],
    ['failed', true, 'interrupted'],
    ['interrupted', true, 'interrupted'],
    ['ended', false, 'cancelled'],
    ['cancelled', false, 'cancelled'],
    ['failed', false, 'failed'],
    ['interrupted', false, 'interrupted'],
  ])('stream %s, final reply sent: %s → %s', (end, answered, outcome) => {
    expect(outcomeOf(end, answered ? 'completed' : undefined)).toBe(outcome);
  });

  test('the final reply alone is not a completed request: Envoy has yet to send it', async () => {
    expect(await run(EXCHANGE, 'ended')).toEqual({ before: undefined, after: 'completed', status: 200 });
  });

  test('cut after the final reply, by a shutdown or by losing Envoy: interrupted', async () => {
    expect((await run(EXCHANGE, 'interrupted')).after).toBe('interrupted');
    expect((await run(EXCHANGE, 'cancelled')).after).toBe('interrupted');
  });

  test('cut before any response: the status says who ended it (499 the client, 503 the gateway)', async () => {
    const beforeResponse = EXCHANGE.slice(0, 2);
    expect(await run(beforeResponse, 'interrupted')).toMatchObject({ after: 'interrupted', status: 503 });
    expect(await run(beforeResponse, 'failed')).toMatchObject({ after: 'failed', status: 503 });
    expect(await run(beforeResponse, 'cancelled')).toMatchObject({ after: 'cancelled', status: 499 });
    // A response that did arrive keeps its status.
    expect(await run(EXCHANGE, 'ended')).toMatchObject({ after: 'completed', status: 200 });
  });

  test('cut while the provider is still answering: interrupted; a client gone before then: cancelled', async () => {
    expect((await run(EXCHANGE.slice(0, 3), 'interrupted')).after).toBe('interrupted');
    expect((await run(EXCHANGE.slice(0, 3), 'ended')).after).toBe('cancelled');
  });
});

describe('BatchWriter at shutdown', () => {
  const events = () => {
    const c = { queued: 0, written: 0, retried: 0, dropped: 0, depth: 0 };
    const on = (k: keyof typeof c) => (n: number) => void (c[k] += n);
    return { c, events: { queued: on('queued'), written: on('written'), retried: on('retried'), dropped: on('dropped'), depth: () => undefined } };
  };

  test('items that arrive while close() is writing are written too; one after it is counted, never silently lost', async () => {
    const written: number[] = [];
    const { c, events: ev } = events();
    let w: BatchWriter<number>;
    const write = async (batch: number[]) => {
      await new Promise((r) => setTimeout(r, 20));
      written.push(...batch);
      // A record handed over while the writer is closing (a request finishing late).
      if (batch.includes(1)) w.enqueue(99);
    };
    w = new BatchWriter('test', write, { maxQueue: 100, batchSize: 2, flushIntervalMs: 1000, maxBackoffMs: 10 }, ev, log);
    [1, 2, 3].forEach((i) => w.enqueue(i));
    expect(await w.close()).toBe(0);
    expect(written.sort((a, b) => a - b)).toEqual([1, 2, 3, 99]);
    w.enqueue(100);
    expect(c).toMatchObject({ queued: 4, written: 4, dropped: 1 });
  });
});
