import pino from 'pino';
import * as protobuf from 'protobufjs';
import { InFlight } from '../../src/core/attempts';
import { UpstreamAttempt } from '../../src/core/upstream-attempt';
import { encodeProcessingResponse, EXT_PROC_PROTO } from '../../src/envoy/extproc/codec';
import type { ProcessingRequest, ProcessingResponse } from '../../src/envoy/extproc/messages';
import { loadProtoRoot } from '../../src/envoy/extproc/protos';
import { ExtProcSession } from '../../src/envoy/extproc/session';
import { GatewayMetrics } from '../../src/observability/metrics';
import { PluginHost } from '../../src/plugins/host';
import { respond, type PluginHooks, type RequestContext } from '../../src/plugins/api';
import { ProviderRegistry, toRuntime } from '../../src/control/provider-registry';

/**
 * How the processor ends a stream early (what budgets rely on): a request that asked for an
 * endable stream gets Envoy's FULL_DUPLEX_STREAMED body mode, every body chunk is answered with a
 * StreamedBodyResponse, and a plugin's short-circuit ends the body there (end_of_stream), after
 * which nothing more is sent; the exchange is recorded with the plugin's outcome.
 */

describe('StreamedBodyResponse on the wire', () => {
  // Envoy's numbers, declared here independently of the codec's own patch of the proto snapshot.
  const root = loadProtoRoot([EXT_PROC_PROTO], (r) => {
    const ns = r.lookup('envoy.service.ext_proc.v3') as protobuf.Namespace;
    ns.add(new protobuf.Type('StreamedBodyResponse').add(new protobuf.Field('body', 1, 'bytes')).add(new protobuf.Field('end_of_stream', 2, 'bool')));
    r.lookupType('envoy.service.ext_proc.v3.BodyMutation').add(new protobuf.Field('streamed_response', 3, 'StreamedBodyResponse'));
    const modes = r.lookupEnum('envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode');
    if (modes.values.FULL_DUPLEX_STREAMED === undefined) modes.add('FULL_DUPLEX_STREAMED', 4);
  });
  const Response = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
  const decode = (m: ProcessingResponse) => Response.toObject(Response.decode(encodeProcessingResponse(m)), { enums: String, bytes: String }) as any;

  test('a streamed body chunk, with and without the end of the stream', () => {
    const body = Buffer.from('data: [DONE]\n\n');
    expect(decode({ response_body: { response: { streamed_body: { body, end_of_stream: true } } } })).toEqual({
      response_body: { response: { body_mutation: { streamed_response: { body: body.toString('base64'), end_of_stream: true } } } },
    });
    // An empty chunk is still a streamed_response (a plain body mutation is refused in this mode).
    expect(decode({ response_body: { response: { streamed_body: { body: Buffer.alloc(0) } } } })).toEqual({
      response_body: { response: { body_mutation: { streamed_response: {} } } },
    });
  });

  test('the mode override for an endable stream', () => {
    expect(decode({ mode_override: { response_body_mode: 'FULL_DUPLEX_STREAMED', response_trailer_mode: 'SEND' } })).toEqual({
      mode_override: { response_body_mode: 'FULL_DUPLEX_STREAMED', response_trailer_mode: 'SEND' },
    });
  });
});

const providers = new ProviderRegistry([toRuntime({ name: 'up', type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-up', models: ['gpt-*'], headers: {}, timeout_seconds: 0 })]);
const hdrs = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
const sse = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

/** A stream of `pieces` through a session whose plugin ends it at the piece `cutAt` (if endable). */
async function run(opts: { endable: boolean; cutAt?: string }) {
  const out: ProcessingResponse[] = [];
  const completed: RequestContext[] = [];
  const hooks: PluginHooks = {
    onRequest(ctx) {
      ctx.target = providers.resolve('gpt-4o');
      if (opts.endable) ctx.endableStream();
    },
    onResponseChunk(_ctx, ev) {
      if (opts.cutAt && ev.data.includes(opts.cutAt)) return { ...respond(429, { error: { message: 'spent', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }), outcome: 'budget_exceeded' };
    },
    onComplete(ctx) {
      completed.push(ctx);
    },
  };
  const log = pino({ level: 'silent' });
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
    planRoute: (_ctx: unknown, t: any) => ({ cluster: 'provider_up', targets: [t] }),
  };
  const s = new ExtProcSession(deps, { send: (m) => out.push(m) });
  const msgs: ProcessingRequest[] = [
    { request: 'request_headers', request_headers: { headers: hdrs({ ':method': 'POST', ':path': '/v1/chat/completions' }) } },
    { request: 'request_body', request_body: { body: Buffer.from(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] })), end_of_stream: true } },
    { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'text/event-stream' }) } },
    { request: 'response_body', response_body: { body: Buffer.from(sse('one') + sse('two')), end_of_stream: false } },
    { request: 'response_body', response_body: { body: Buffer.from(sse('three')), end_of_stream: false } },
    { request: 'response_body', response_body: { body: Buffer.from(sse('four') + 'data: [DONE]\n\n'), end_of_stream: true } },
  ];
  for (const m of msgs) s.receive(m);
  await s.close('ended');
  return { out, completed };
}

describe('an endable stream', () => {
  test('is asked for in FULL_DUPLEX_STREAMED mode; every chunk answered with a streamed_response; the upstream end ends it', async () => {
    const { out, completed } = await run({ endable: true });
    expect(out[2].mode_override).toEqual({ response_body_mode: 'FULL_DUPLEX_STREAMED', response_trailer_mode: 'SEND' });
    const bodies = out.slice(3).map((r) => r.response_body!.response!.streamed_body!);
    expect(bodies.map((b) => Boolean(b.end_of_stream))).toEqual([false, false, true]);
    expect(bodies.map((b) => b.body.toString()).join('')).toBe(sse('one') + sse('two') + sse('three') + sse('four') + 'data: [DONE]\n\n');
    expect(completed[0].outcome).toBe('completed');
  });

  test("a plugin's short-circuit ends the body at once: the error event, [DONE], end_of_stream; nothing after", async () => {
    const { out, completed } = await run({ endable: true, cutAt: 'three' });
    const bodies = out.slice(3).map((r) => r.response_body!.response!.streamed_body!);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatchObject({ end_of_stream: false });
    expect(bodies[1].end_of_stream).toBe(true);
    expect(bodies[1].body.toString()).toBe('data: {"error":{"message":"spent","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}\n\ndata: [DONE]\n\n');
    expect(completed[0].outcome).toBe('budget_exceeded');
  });

  test('a request that did not ask keeps the STREAMED mode: a short-circuit drops the rest until the upstream ends', async () => {
    const { out, completed } = await run({ endable: false, cutAt: 'three' });
    expect(out[2].mode_override).toEqual({ response_body_mode: 'STREAMED' });
    expect(out.slice(3).map((r) => r.response_body!.response!.body_mutation?.body?.toString())).toEqual([
      sse('one') + sse('two'),
      'data: {"error":{"message":"spent","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}\n\ndata: [DONE]\n\n',
      '',
    ]);
    expect(completed[0].outcome).toBe('completed');
  });
});
