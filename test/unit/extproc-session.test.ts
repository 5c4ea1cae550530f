import pino from 'pino';
import { InFlight } from '../../src/core/attempts';
import { UpstreamAttempt } from '../../src/core/upstream-attempt';
import { ExtProcSession, UpstreamSession } from '../../src/envoy/extproc/session';
import type { ProcessingRequest, ProcessingResponse } from '../../src/envoy/extproc/messages';
import { GatewayMetrics } from '../../src/observability/metrics';
import { PluginHost } from '../../src/plugins/host';
import type { PluginHooks } from '../../src/plugins/api';
import { ProviderRegistry, toRuntime } from '../../src/control/provider-registry';

/** The ext_proc protocol as Envoy sees it: one reply per message, in the right phase and shape. */

const providers = new ProviderRegistry([
  toRuntime({ name: 'up', type: 'openai-compatible', base_url: 'http://127.0.0.1:9/base/v1', api_key: 'sk-up-secret', models: ['gpt-*'], headers: { 'x-extra': '1' }, timeout_seconds: 0 }),
]);
const router: PluginHooks = {
  onRequest(ctx) {
    if (ctx.request.model) ctx.target = providers.resolve(ctx.request.model);
  },
};

const hdrs = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
const setHeaders = (r: any) =>
  Object.fromEntries((r?.header_mutation?.set_headers ?? []).map((o: any) => [o.header.key, o.header.raw_value.toString()]));

/** A message list; `UPSTREAM` stands for one upstream attempt (the provider cluster's ext_proc stream). */
const UPSTREAM = Symbol('upstream attempt');

async function feed(msgs: (ProcessingRequest | typeof UPSTREAM)[], hooks?: PluginHooks[]) {
  const out: ProcessingResponse[] = [];
  const log = pino({ level: 'silent' });
  const plugins = new PluginHost((hooks ?? [router]).map((h, i) => ({ name: `p${i}`, hooks: h, timeoutMs: 100, onError: 'fail_closed' as const })), log);
  const inflight = new InFlight();
  const attempt = new UpstreamAttempt({ plugins, providers, inflight, log });
  // With an attempt stream in the script, the request has a fallback (an aggregate cluster whose
  // filter asks per attempt); without, a single target prepared by the listener's stream.
  const fallback = msgs.includes(UPSTREAM);
  const deps = {
    plugins,
    providers,
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    log,
    routingHeader: 'x-gateway-cluster',
    inflight,
    attempts: attempt,
    planRoute: (_ctx: unknown, t: any) =>
      fallback ? { cluster: 'chain_0_up', targets: [t, { ...t, model: 'gpt-fallback' }] } : { cluster: providers.get(t.provider)!.cluster, targets: [t] },
  };
  const s = new ExtProcSession(deps, { send: (m) => out.push(m) });
  for (const m of msgs) {
    if (m === UPSTREAM) {
      await s.settled();
      const u = new UpstreamSession(attempt, 'up', { send: (r) => out.push(r) }, log);
      // Envoy forwards the exchange id the listener's stream published, as the attempt's metadata.
      const exchange = out.map((r) => r.dynamic_metadata?.fields['llm-gateway']?.structValue?.fields.exchange).find(Boolean);
      u.receive({
        request: 'request_headers',
        request_headers: { headers: hdrs({ ':method': 'POST', ':path': '/v1/chat/completions', 'x-request-id': 'abc' }), end_of_stream: false },
        metadata_context: exchange ? { filter_metadata: { 'llm-gateway': { fields: { exchange } } } } : undefined,
      });
      await u.close();
    } else s.receive(m);
  }
  await s.close('cancelled');
  return out;
}

const reqHeaders: ProcessingRequest = {
  request: 'request_headers',
  request_headers: {
    headers: hdrs({
      ':method': 'POST',
      ':path': '/v1/chat/completions?x=1',
      authorization: 'Bearer client',
      'x-gateway-cluster': 'evil',
      'x-envoy-max-retries': '50',
      'x-request-id': 'abc',
    }),
  },
};
const reqBody = (body: object | string | Buffer): ProcessingRequest => ({
  request: 'request_body',
  request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), end_of_stream: true },
});

describe('ext_proc session', () => {
  test('request headers: client-supplied internal headers are removed', async () => {
    const [r] = await feed([reqHeaders]);
    expect(r.request_headers?.response?.header_mutation?.remove_headers).toEqual(['x-gateway-cluster', 'x-envoy-max-retries']);
  });

  test('request body: routing header, client credentials removed, cleared route cache; body untouched when unchanged', async () => {
    const [, r] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] })]);
    const common = r.request_body!.response!;
    // A single target: the attempt is prepared in this reply (path, host, the provider's credential).
    expect(setHeaders(common)).toEqual({
      'x-gateway-cluster': 'provider_up',
      authorization: 'Bearer sk-up-secret',
      'x-extra': '1',
      ':path': '/base/v1/chat/completions',
      ':authority': '127.0.0.1:9',
    });
    for (const o of common.header_mutation!.set_headers!) {
      expect(Buffer.isBuffer(o.header.raw_value)).toBe(true);
      expect((o.header as any).value).toBeUndefined();
    }
    expect(common.header_mutation!.remove_headers).toBeUndefined();
    expect(common.clear_route_cache).toBe(true);
    expect(common.body_mutation).toBeUndefined();
  });

  test('a single-target request needs no attempt stream: no exchange metadata, translation in the routing reply', async () => {
    const [, r] = await feed([reqHeaders, reqBody({ model: 'up/gpt-x', messages: [] })]);
    expect(r.dynamic_metadata?.fields['llm-gateway']?.structValue?.fields.exchange).toBeUndefined();
    const common = r.request_body!.response!;
    expect(JSON.parse(common.body_mutation!.body.toString())).toEqual({ model: 'gpt-x', messages: [] });
    expect(setHeaders(common)['content-length']).toBe(String(common.body_mutation!.body.length));
  });

  test('a request with fallbacks gets no credential downstream: each attempt stream sets its own', async () => {
    const [, r] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM]);
    expect(setHeaders(r.request_body!.response)).toEqual({ 'x-gateway-cluster': 'chain_0_up' });
    expect(r.request_body!.response!.header_mutation!.remove_headers).toEqual(['authorization']);
  });

  test('the upstream attempt sets path, host and the provider credential, without asking for the body', async () => {
    const [, , r] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM]);
    const common = r.request_headers!.response!;
    expect(setHeaders(common)).toEqual({ authorization: 'Bearer sk-up-secret', 'x-extra': '1', ':path': '/base/v1/chat/completions', ':authority': '127.0.0.1:9' });
    expect(common.body_mutation).toBeUndefined();
    expect(common.status).toBeUndefined();
  });

  test('an attempt that must change the body replaces it from the headers reply (CONTINUE_AND_REPLACE)', async () => {
    const [, , r] = await feed([reqHeaders, reqBody({ model: 'up/gpt-x', messages: [] }), UPSTREAM]);
    const common = r.request_headers!.response!;
    expect(common.status).toBe('CONTINUE_AND_REPLACE');
    const body = common.body_mutation!.body;
    expect(JSON.parse(body.toString())).toEqual({ model: 'gpt-x', messages: [] });
    expect(setHeaders(common)['content-length']).toBe(String(body.length));
  });

  test('a body changed by a plugin is re-serialised downstream with a matching content-length', async () => {
    const stamp: PluginHooks = { onRequest: (ctx) => ctx.setRequestBody({ ...ctx.request.body!, user: 'stamped' }) };
    const [, r] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] })], [router, stamp]);
    const common = r.request_body!.response!;
    const body = common.body_mutation!.body;
    expect(JSON.parse(body.toString())).toEqual({ model: 'gpt-4o', messages: [], user: 'stamped' });
    expect(setHeaders(common)['content-length']).toBe(String(body.length));
  });

  test('onUpstreamAttempt edits apply to that attempt: headers, and the body when a hook replaces it', async () => {
    const perAttempt: PluginHooks = {
      onUpstreamAttempt(ctx, attempt) {
        ctx.setRequestHeader('x-attempt', String(attempt.number));
        ctx.setRequestBody({ ...ctx.request.body!, user: `attempt-${attempt.number}` });
      },
    };
    const [, , r] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM], [router, perAttempt]);
    const common = r.request_headers!.response!;
    expect(setHeaders(common)['x-attempt']).toBe('1');
    expect(common.status).toBe('CONTINUE_AND_REPLACE');
    expect(JSON.parse(common.body_mutation!.body.toString()).user).toBe('attempt-1');
  });

  test('an upstream attempt for a request the processor does not know is refused with a 503', async () => {
    const [r] = await feed([UPSTREAM]);
    expect(r.immediate_response!.status.code).toBe(503);
  });

  test.each([
    ['broken JSON', '{"model":', 400, 'invalid_json'],
    ['a JSON array', '[1,2]', 400, 'invalid_request_body'],
    ['no model', { messages: [] }, 400, 'missing_required_parameter'],
    ['an unknown model', { model: 'nope', messages: [] }, 404, 'model_not_found'],
    ['a model that is not a string', { model: 42, messages: [] }, 400, 'invalid_type'],
    ['malformed UTF-8', Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 400, 'invalid_encoding'],
  ])('%s gets an immediate JSON response', async (_n, body, status, code) => {
    const [, r] = await feed([reqHeaders, reqBody(body as object)]);
    const ir = r.immediate_response!;
    expect(ir.status.code).toBe(status);
    expect(JSON.parse(ir.body!.toString()).error.code).toBe(code);
    expect(setHeaders({ header_mutation: ir.headers })['content-type']).toBe('application/json');
    expect(ir.details).toMatch(/^gateway_/);
  });

  test('the reply to the request headers switches response processing on, with every mode given', async () => {
    const [r] = await feed([reqHeaders]);
    expect(r.mode_override).toEqual({
      request_header_mode: 'SEND',
      request_body_mode: 'BUFFERED',
      request_trailer_mode: 'SKIP',
      response_header_mode: 'SEND',
      response_body_mode: 'BUFFERED',
      response_trailer_mode: 'SKIP',
    });
    // A provider cluster's filter (one upstream attempt) never processes the response.
    const [, , upstream] = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM]);
    expect(upstream.request_headers).toBeDefined();
    expect(upstream.mode_override).toBeUndefined();
  });

  test.each([
    ['a dot segment', 'POST', '/v1/chat/completions/../../v1/keys', 400, 'invalid_path'],
    ['an encoded dot segment', 'GET', '/v1/models/%2e%2e', 400, 'invalid_path'],
    ['CONNECT (its body never ends)', 'CONNECT', '/', 405, 'method_not_allowed'],
  ])('%s is refused at the request headers', async (_n, method, path, status, code) => {
    const [r] = await feed([{ request: 'request_headers', request_headers: { headers: hdrs({ ':method': method, ':path': path }) } }]);
    expect(r.immediate_response!.status.code).toBe(status);
    expect(JSON.parse(r.immediate_response!.body!.toString()).error.code).toBe(code);
  });

  test('SSE responses switch the body to STREAMED; JSON stays buffered', async () => {
    const resp = (ct: string): ProcessingRequest => ({ request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': ct }) } });
    const sse = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM, resp('text/event-stream; charset=utf-8')]);
    expect(sse[3].mode_override).toEqual({ response_body_mode: 'STREAMED' });
    const json = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM, resp('application/json')]);
    expect(json[3].mode_override).toBeUndefined();
    expect(setHeaders(json[3].response_headers!.response)).toMatchObject({ 'x-gateway-provider': 'up', 'x-gateway-served-by': 'up/gpt-4o' });
  });

  test('streamed chunks pass unchanged without chunk hooks, and are rewritten with them', async () => {
    const start = [reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'text/event-stream' }) } }] as ProcessingRequest[];
    const chunks: ProcessingRequest[] = [
      { request: 'response_body', response_body: { body: Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"cho'), end_of_stream: false } },
      { request: 'response_body', response_body: { body: Buffer.from('ices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n'), end_of_stream: true } },
    ];
    const plain = await feed([...start, ...chunks]);
    expect(plain.slice(3).map((r) => r.response_body!.response!.body_mutation)).toEqual([undefined, undefined]);

    const upper: PluginHooks = {
      onResponseChunk(_ctx, ev) {
        const j = ev.json as any;
        if (j?.choices) ev.replace({ choices: [{ delta: { content: String(j.choices[0].delta.content).toUpperCase() } }] });
      },
    };
    const edited = await feed([...start, ...chunks], [router, upper]);
    const bodies = edited.slice(3).map((r) => r.response_body!.response!.body_mutation!.body.toString());
    // The partial second event is held back until it completes.
    expect(bodies[0]).toBe('data: {"choices":[{"delta":{"content":"A"}}]}\n\n');
    expect(bodies[1]).toBe('data: {"choices":[{"delta":{"content":"B"}}]}\n\ndata: [DONE]\n\n');
  });

  test('a chunk hook that short-circuits ends the stream with an error event and drops the rest', async () => {
    const block: PluginHooks = {
      onResponseChunk(_ctx, ev) {
        if (ev.data.includes('secret')) return { kind: 'respond', status: 400, body: { error: { message: 'blocked', type: 'invalid_request_error', param: null, code: 'content_filtered' } } };
      },
    };
    const out = await feed(
      [
        reqHeaders,
        reqBody({ model: 'gpt-4o', messages: [] }),
        { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'text/event-stream' }) } },
        { request: 'response_body', response_body: { body: Buffer.from('data: {"a":"ok"}\n\ndata: {"a":"secret"}\n\n'), end_of_stream: false } },
        { request: 'response_body', response_body: { body: Buffer.from('data: {"a":"after"}\n\ndata: [DONE]\n\n'), end_of_stream: true } },
      ],
      [router, block],
    );
    const bodies = out.slice(3).map((r) => r.response_body!.response!.body_mutation!.body.toString());
    expect(bodies[0]).toBe('data: {"a":"ok"}\n\ndata: {"error":{"message":"blocked","type":"invalid_request_error","param":null,"code":"content_filtered"}}\n\ndata: [DONE]\n\n');
    expect(bodies[1]).toBe('');
  });

  test('a buffered response body changed by a plugin gets a new content-length', async () => {
    const stamp: PluginHooks = { onResponse: (ctx) => ctx.setResponseBody({ stamped: true }) };
    const out = await feed(
      [
        reqHeaders,
        reqBody({ model: 'gpt-4o', messages: [] }),
        { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'application/json' }) } },
        { request: 'response_body', response_body: { body: Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'), end_of_stream: true } },
      ],
      [router, stamp],
    );
    const common = out[3].response_body!.response!;
    expect(common.body_mutation!.body.toString()).toBe('{"stamped":true}');
    expect(setHeaders(common)['content-length']).toBe('16');
  });

  test('every message gets exactly one reply, in order', async () => {
    const out = await feed([
      reqHeaders,
      reqBody({ model: 'gpt-4o', messages: [] }),
      { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'application/json' }) } },
      { request: 'response_body', response_body: { body: Buffer.from('{}'), end_of_stream: true } },
    ]);
    expect(out.map((r) => Object.keys(r).find((k) => k !== 'mode_override'))).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body']);
    expect(out).toHaveLength(4);
  });
});

describe('dynamic metadata for Envoy (rate limits)', () => {
  /** The gateway namespace's values, less the exchange id (tested on its own below). */
  const metadataOf = (r: ProcessingResponse | undefined) => {
    const { exchange: _, ...rest } = r?.dynamic_metadata?.fields['llm-gateway']?.structValue?.fields ?? {};
    return Object.keys(rest).length ? rest : undefined;
  };
  const publish: PluginHooks = {
    onRequest(ctx) {
      ctx.setDynamicMetadata('rl_key', 'key_1');
      ctx.setDynamicMetadata('rl_model', ctx.request.model ?? '');
    },
  };

  test('values plugins publish go out with the next reply, once, in the gateway namespace', async () => {
    const out = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] })], [router, publish]);
    expect(metadataOf(out[0])).toBeUndefined();
    expect(metadataOf(out[1])).toEqual({ rl_key: { stringValue: 'key_1' }, rl_model: { stringValue: 'gpt-4o' } });
  });

  test('a buffered response reports its total tokens with the last body reply', async () => {
    const out = await feed([
      reqHeaders,
      reqBody({ model: 'gpt-4o', messages: [] }),
      UPSTREAM,
      { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'application/json' }) } },
      { request: 'response_body', response_body: { body: Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'), end_of_stream: true } },
    ]);
    expect(metadataOf(out[3])).toBeUndefined();
    expect(metadataOf(out[4])).toEqual({ tokens: { numberValue: 3 } });
  });

  test('a stream reports the usage of its usage chunk with the final chunk reply, not before', async () => {
    const out = await feed([
      reqHeaders,
      reqBody({ model: 'gpt-4o', messages: [], stream: true }),
      UPSTREAM,
      { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'text/event-stream' }) } },
      { request: 'response_body', response_body: { body: Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'), end_of_stream: false } },
      { request: 'response_body', response_body: { body: Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":100,"total_tokens":400}}\n\n'), end_of_stream: false } },
      { request: 'response_body', response_body: { body: Buffer.from('data: [DONE]\n\n'), end_of_stream: true } },
    ]);
    expect(out.slice(4, 6).map(metadataOf)).toEqual([undefined, undefined]);
    expect(metadataOf(out[6])).toEqual({ tokens: { numberValue: 400 } });
  });

  test('no usage, no token metadata', async () => {
    const out = await feed([
      reqHeaders,
      reqBody({ model: 'gpt-4o', messages: [] }),
      UPSTREAM,
      { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '500', 'content-type': 'application/json' }) } },
      { request: 'response_body', response_body: { body: Buffer.from('{"error":{"message":"x"}}'), end_of_stream: true } },
    ]);
    expect(out.every((r) => metadataOf(r) === undefined)).toBe(true);
  });

  test('the routing reply publishes a fresh exchange id, never the x-request-id; attempts find the request only by it', async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const out = await feed([reqHeaders, reqBody({ model: 'gpt-4o', messages: [] }), UPSTREAM]);
      const id = out[1]!.dynamic_metadata?.fields['llm-gateway']?.structValue?.fields.exchange?.stringValue;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(setHeaders(out[2]!.request_headers!.response)[':path']).toBe('/base/v1/chat/completions');
      ids.push(id);
    }
    expect(ids[0]).not.toBe(ids[1]);
  });

  test('an attempt without the exchange metadata is refused, whatever x-request-id it carries', async () => {
    const log = pino({ level: 'silent' });
    const plugins = new PluginHost([], log);
    const attempt = new UpstreamAttempt({ plugins, providers, inflight: new InFlight(), log });
    const out: ProcessingResponse[] = [];
    const u = new UpstreamSession(attempt, 'up', { send: (r) => out.push(r) }, log);
    u.receive({ request: 'request_headers', request_headers: { headers: hdrs({ ':method': 'POST', ':path': '/v1/chat/completions', 'x-request-id': 'abc' }) } });
    await u.close();
    expect(out[0]!.immediate_response?.status.code).toBe(503);
  });
});

test('a local reply of a filter before ext_proc (no request seen) is passed through untouched', async () => {
  const out = await feed([
    { request: 'response_headers', response_headers: { headers: hdrs({ ':status': '429', 'content-type': 'application/json' }) } },
    { request: 'response_body', response_body: { body: Buffer.from('{"error":{}}'), end_of_stream: true } },
  ]);
  expect(out).toEqual([{ response_headers: { response: {} } }, { response_body: { response: {} } }]);
});
