import * as grpc from '@grpc/grpc-js';
import { decodeProcessingRequest, encodeProcessingResponse, EXT_PROC_PROTO, withExtProcCodec } from '../../src/envoy/extproc/codec';
import type { HeaderValueOption, ProcessingRequest, ProcessingResponse } from '../../src/envoy/extproc/messages';
import { loadProtoRoot, serviceDefinition } from '../../src/envoy/extproc/protos';

/**
 * The hand-driven ext_proc codec against protobufjs's reference encoding: requests encoded by
 * protobufjs (what Envoy sends) must decode to what proto-loader gave the session before, and
 * replies must encode to exactly the bytes proto-loader wrote, and decode back with protobufjs.
 */

const reference = serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor').Process;
const root = loadProtoRoot([EXT_PROC_PROTO]);
const RequestType = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
const ResponseType = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
const TO_OBJECT = { longs: String, enums: String, oneofs: true, defaults: false };

/** Bytes as Envoy would send them (protobufjs's encoder; `obj` in protobufjs's JSON form). */
const envoyBytes = (obj: Record<string, unknown>): Buffer => {
  const err = RequestType.verify(obj);
  if (err) throw new Error(err);
  return Buffer.from(RequestType.encode(RequestType.fromObject(obj)).finish());
};

/**
 * What proto-loader's deserializer gave for the same bytes, with the codec's documented
 * differences applied: a header's text in `value` (raw_value decoded as UTF-8 when not empty),
 * no oneof `kind` names inside Structs, an empty Struct as `{ fields: {} }`, trailers unread,
 * fields the processor never reads left out.
 */
function expected(bytes: Buffer): ProcessingRequest {
  const old = reference.requestDeserialize(bytes) as Record<string, any>;
  const headers = (m: any) => {
    if (!m) return m;
    const out: any = {};
    if (m.headers?.headers) out.headers = { headers: m.headers.headers.map((h: any) => ({ key: h.key ?? '', value: h.raw_value?.length ? h.raw_value.toString('utf8') : (h.value ?? '') })) };
    else if (m.headers) out.headers = {};
    if (m.end_of_stream !== undefined) out.end_of_stream = m.end_of_stream;
    return out;
  };
  const value = (v: any): any => {
    const { kind: _kind, ...rest } = v;
    if (rest.structValue) rest.structValue = struct(rest.structValue);
    if (rest.listValue) rest.listValue = { values: (rest.listValue.values ?? []).map(value) };
    return rest;
  };
  const struct = (s: any) => ({ fields: Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, value(v)])) });
  const structs = (m: any) => m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, struct(v)]));
  const out: any = {};
  if (old.request) out.request = old.request;
  for (const p of ['request_headers', 'response_headers']) if (old[p]) out[p] = headers(old[p]);
  for (const p of ['request_body', 'response_body']) if (old[p]) out[p] = old[p];
  for (const p of ['request_trailers', 'response_trailers']) if (old[p]) out[p] = {};
  if (old.attributes) out.attributes = structs(old.attributes);
  if (old.metadata_context) out.metadata_context = old.metadata_context.filter_metadata ? { filter_metadata: structs(old.metadata_context.filter_metadata) } : {};
  return out;
}

const raw = (h: Record<string, string | Buffer>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.isBuffer(v) ? v : Buffer.from(v) })) });

describe('decodeProcessingRequest', () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      'request headers as Envoy 1.40 sends them (raw_value)',
      {
        request_headers: {
          headers: raw({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw:10000', 'content-type': 'application/json', authorization: 'Bearer sk-1', 'x-request-id': 'abc' }),
          end_of_stream: false,
        },
      },
    ],
    [
      'non-ASCII and invalid UTF-8 header values, empty values, `value` instead of raw_value',
      {
        request_headers: {
          headers: {
            headers: [
              { key: 'x-name', raw_value: Buffer.from('Zoë Çelik — 東京 🚀') },
              { key: 'x-latin1', raw_value: Buffer.from([0x63, 0x61, 0x66, 0xe9]) }, // "caf\xe9": invalid UTF-8
              { key: 'x-cut', raw_value: Buffer.from('🚀').subarray(0, 3) },
              { key: 'x-empty', raw_value: Buffer.alloc(0) },
              { key: 'x-none' },
              { key: 'x-old', value: 'from value' },
              { key: 'x-both', value: 'ignored', raw_value: Buffer.from('raw wins') },
              { key: 'x-raw-empty', value: 'value used', raw_value: Buffer.alloc(0) },
              { key: 'x-long', raw_value: Buffer.from('v'.repeat(20_000) + 'é') },
            ],
          },
          end_of_stream: true,
        },
      },
    ],
    ['response headers', { response_headers: { headers: raw({ ':status': '200', 'content-type': 'text/event-stream', 'x-ratelimit-remaining-requests': '99' }) } }],
    ['headers without a header map', { request_headers: { end_of_stream: true } }],
    ['a request body', { request_body: { body: Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"héllo"}]}'), end_of_stream: true } }],
    ['an empty request body (present, zero length)', { request_body: { body: Buffer.alloc(0), end_of_stream: true } }],
    ['a body message without a body', { request_body: { end_of_stream: true } }],
    ['a streamed response chunk', { response_body: { body: Buffer.from('data: {"choices":[]}\r\n\r\n') } }],
    ['the last, empty, streamed chunk', { response_body: { end_of_stream: true } }],
    ['request trailers', { request_trailers: { trailers: raw({ 'x-checksum': 'abc' }) } }],
    ['response trailers', { response_trailers: {} }],
    [
      "an upstream attempt's headers: attributes and forwarded metadata",
      {
        request_headers: { headers: raw({ ':path': '/v1/chat/completions' }) },
        attributes: {
          'envoy.filters.http.ext_proc': {
            fields: {
              'xds.upstream_host_metadata': {
                stringValue: 'filter_metadata { key: "llm-gateway" value { fields { key: "provider" value { string_value: "openai" } } } }',
              },
            },
          },
        },
        metadata_context: {
          filter_metadata: {
            'llm-gateway': { fields: { exchange: { stringValue: '01J2Z3X4Y5W6V7U8T9S0R1Q2P3' }, tokens: { numberValue: 1234.5 } } },
            other: {},
          },
          typed_filter_metadata: { typed: { type_url: 'type.googleapis.com/google.protobuf.Empty', value: Buffer.alloc(0) } },
        },
      },
    ],
    [
      'every kind of Struct value, nested',
      {
        response_body: { body: Buffer.from('x') },
        metadata_context: {
          filter_metadata: {
            ns: {
              fields: {
                s: { stringValue: 'naïve' },
                n: { numberValue: -0.25 },
                b: { boolValue: true },
                f: { boolValue: false },
                z: { nullValue: 0 },
                l: { listValue: { values: [{ stringValue: 'a' }, { numberValue: 1 }, { listValue: { values: [] } }] } },
                o: { structValue: { fields: { deep: { structValue: { fields: { x: { stringValue: 'y' } } } } } } },
                e: { structValue: {} },
              },
            },
          },
        },
      },
    ],
    [
      'fields the processor never reads are skipped',
      {
        request_headers: { headers: raw({ a: 'b' }), attributes: { legacy: { fields: { k: { stringValue: 'v' } } } } },
        observability_mode: true,
      },
    ],
  ];

  test.each(cases)('%s', (_name, obj) => {
    const bytes = envoyBytes(obj);
    expect(decodeProcessingRequest(bytes)).toEqual(expected(bytes));
  });

  test('header text is what the session read from raw_value before', () => {
    const values = ['plain', 'Zoë — 東京 🚀', Buffer.from([0xff, 0xfe, 0x41]), ''];
    const bytes = envoyBytes({ request_headers: { headers: { headers: values.map((v, i) => ({ key: `h${i}`, raw_value: Buffer.isBuffer(v) ? v : Buffer.from(v) })) } } });
    const old = reference.requestDeserialize(bytes) as ProcessingRequest;
    const mine = decodeProcessingRequest(bytes);
    // session.ts's toHeaders: raw_value as UTF-8 when not empty, else value, else ''.
    const text = (h: { value?: string; raw_value?: Buffer }) => (h.raw_value && h.raw_value.length ? h.raw_value.toString('utf8') : (h.value ?? ''));
    expect(mine.request_headers!.headers!.headers!.map(text)).toEqual(old.request_headers!.headers!.headers!.map(text));
    expect(mine.request_headers!.headers!.headers!.map((h) => h.value)).toEqual(['plain', 'Zoë — 東京 🚀', '\ufffd\ufffdA', '']);
  });

  test('a large body (4 MiB) is a view into the message, not a copy', () => {
    const body = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const bytes = envoyBytes({ request_body: { body, end_of_stream: true } });
    const msg = decodeProcessingRequest(bytes);
    expect(msg.request).toBe('request_body');
    expect(msg.request_body!.end_of_stream).toBe(true);
    expect(msg.request_body!.body!.equals(body)).toBe(true);
    expect(msg.request_body!.body!.buffer).toBe(bytes.buffer);
  });

  test('a Uint8Array that is not a Buffer decodes too', () => {
    const bytes = envoyBytes({ request_headers: { headers: raw({ ':path': '/x' }), end_of_stream: true } });
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(decodeProcessingRequest(view)).toEqual(expected(bytes));
  });

  test('truncated messages throw rather than read past the end', () => {
    const bytes = envoyBytes({ request_headers: { headers: raw({ ':path': '/v1/chat/completions' }) } });
    expect(() => decodeProcessingRequest(bytes.subarray(0, bytes.length - 3))).toThrow(RangeError);
  });
});

const STATUS_CODES = root.lookupEnum('envoy.type.v3.StatusCode').valuesById;
const ONEOFS = new Set(['kind', 'response', 'mutation']);

/**
 * For comparing a reply with what protobufjs decoded from it: Buffers as hex, no oneof names
 * (strings), no empty Struct `fields` (protobufjs leaves empty maps out), HTTP status codes by
 * their enum name.
 */
function canon(v: unknown, key = ''): unknown {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map((x) => canon(x));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if ((ONEOFS.has(k) && typeof x === 'string') || x === undefined) continue;
      if (k === 'fields' && Object.keys(x as object).length === 0) continue;
      out[k] = key === 'status' && k === 'code' && typeof x === 'number' ? STATUS_CODES[x] : canon(x, k);
    }
    return out;
  }
  return v;
}

/** What protobufjs decodes from `bytes`, as plain objects. */
const decoded = (bytes: Buffer) => ResponseType.toObject(ResponseType.decode(bytes), TO_OBJECT);

const set = (h: Record<string, string>): HeaderValueOption[] =>
  Object.entries(h).map(([key, value]) => ({ header: { key, raw_value: Buffer.from(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }));

describe('encodeProcessingResponse', () => {
  const dynamicMetadata = {
    fields: {
      'llm-gateway': {
        structValue: { fields: { exchange: { stringValue: '01J2Z3X4Y5W6V7U8T9S0R1Q2P3' }, rl_key: { stringValue: 'key_1' }, tokens: { numberValue: 600 }, cost: { numberValue: 0.00125 } } },
      },
    },
  };
  const cases: [string, ProcessingResponse][] = [
    ['an empty headers reply', { request_headers: { response: {} } }],
    ['a reply without a CommonResponse', { response_body: {} }],
    [
      'request headers: mode override for the response, every field',
      {
        request_headers: { response: {} },
        mode_override: {
          request_header_mode: 'SEND',
          request_body_mode: 'BUFFERED',
          request_trailer_mode: 'SKIP',
          response_header_mode: 'SEND',
          response_body_mode: 'BUFFERED',
          response_trailer_mode: 'SKIP',
        },
      },
    ],
    ['switching the response body to STREAMED', { response_headers: { response: {} }, mode_override: { response_body_mode: 'STREAMED' } }],
    [
      'request headers replaced with a body (CONTINUE_AND_REPLACE), headers, route cache',
      {
        request_headers: {
          response: {
            status: 'CONTINUE_AND_REPLACE',
            header_mutation: { set_headers: set({ ':path': '/v1/messages', 'x-api-key': 'sk-ant-1', 'content-length': '17' }), remove_headers: ['authorization', 'x-gateway-cluster'] },
            body_mutation: { body: Buffer.from('{"model":"c","x"}') },
            clear_route_cache: true,
          },
        },
      },
    ],
    ['explicit defaults are written, as protobufjs does', { request_body: { response: { status: 'CONTINUE', clear_route_cache: false, body_mutation: { body: Buffer.alloc(0) } } } }],
    [
      'non-ASCII header values and names',
      { response_headers: { response: { header_mutation: { set_headers: set({ 'x-user': 'Zoë Çelik — 東京 🚀', 'x-long': 'é'.repeat(5000) }) } } } },
    ],
    ['request body with dynamic metadata', { request_body: { response: { header_mutation: { set_headers: set({ 'x-gateway-cluster': 'chain_gpt' }) } } }, dynamic_metadata: dynamicMetadata }],
    ['a streamed chunk, replaced', { response_body: { response: { body_mutation: { body: Buffer.from('data: {"choices":[{"delta":{"content":"hé"}}]}\n\n') } } } }],
    ['a streamed chunk, held back (empty body)', { response_body: { response: { body_mutation: { body: Buffer.alloc(0) } } } }],
    ['trailers replies', { request_trailers: {} }],
    ['response trailers reply', { response_trailers: {} }],
    [
      'an immediate response',
      {
        immediate_response: {
          status: { code: 429 },
          headers: { set_headers: set({ 'content-type': 'application/json', 'retry-after': '3' }) },
          body: Buffer.from('{"error":{"message":"Rate limit reached — réessayez","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}'),
          details: 'gateway_rate_limited',
        },
      },
    ],
    ['a minimal immediate response', { immediate_response: { status: { code: 500 } } }],
    ['an immediate response with dynamic metadata', { immediate_response: { status: { code: 401 }, body: Buffer.alloc(0) }, dynamic_metadata: dynamicMetadata }],
    [
      'a Struct with every kind of value',
      {
        response_body: { response: {} },
        dynamic_metadata: {
          fields: {
            s: { stringValue: 'ünï' },
            n: { numberValue: -1.5 },
            big: { numberValue: 2 ** 53 },
            b: { boolValue: false },
            z: { nullValue: 'NULL_VALUE' },
            l: { listValue: { values: [{ stringValue: 'a' }, { structValue: { fields: {} } }] } },
            o: { structValue: { fields: { p: { structValue: { fields: { q: { numberValue: 0 } } } } } } },
          },
        },
      },
    ],
  ];

  test.each(cases)('%s', (_name, msg) => {
    const mine = encodeProcessingResponse(msg);
    // Byte for byte what proto-loader (protobufjs fromObject + encode) wrote...
    expect(mine.equals(reference.responseSerialize(msg))).toBe(true);
    // ...and protobufjs reads back what was meant.
    expect(canon(decoded(mine))).toEqual(canon(msg));
  });

  test('header values go out as raw_value bytes, UTF-8', () => {
    const msg = decoded(encodeProcessingResponse({ request_body: { response: { header_mutation: { set_headers: set({ 'x-name': 'Zoë 🚀' }) } } } }));
    const header = msg.request_body.response.header_mutation.set_headers[0];
    expect(header.header.raw_value.toString('utf8')).toBe('Zoë 🚀');
    expect(header.header.value).toBeUndefined();
    expect(header.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
  });

  test('a large body (4 MiB) is encoded intact', () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 'abcdefghij');
    body.write('🚀 end', body.length - 10);
    const msg: ProcessingResponse = { request_body: { response: { body_mutation: { body }, header_mutation: { set_headers: set({ 'content-length': String(body.length) }) } } } };
    const mine = encodeProcessingResponse(msg);
    expect(mine.equals(reference.responseSerialize(msg))).toBe(true);
    expect(decoded(mine).request_body.response.body_mutation.body.equals(body)).toBe(true);
  });

  test('the reply of every enum value the processor may write', () => {
    for (const mode of ['DEFAULT', 'SEND', 'SKIP'] as const) {
      for (const body of ['NONE', 'STREAMED', 'BUFFERED'] as const) {
        const msg: ProcessingResponse = { request_headers: { response: {} }, mode_override: { request_header_mode: mode, response_trailer_mode: mode, request_body_mode: body, response_body_mode: body } };
        expect(encodeProcessingResponse(msg).equals(reference.responseSerialize(msg))).toBe(true);
      }
    }
  });
});

describe('the ExternalProcessor service on the codec', () => {
  test('a grpc-js stream decodes requests and encodes replies with it', async () => {
    const server = new grpc.Server();
    const definition = withExtProcCodec(serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor'));
    const seen: ProcessingRequest[] = [];
    server.addService(definition, {
      Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
        call.on('data', (msg: ProcessingRequest) => {
          seen.push(msg);
          const name = msg.request_headers!.headers!.headers!.find((h) => h.key === 'x-name')!.value!;
          call.write({ request_headers: { response: { header_mutation: { set_headers: set({ 'x-hello': `hi ${name}` }) } } }, mode_override: { response_body_mode: 'STREAMED' } });
        });
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    // The client side is proto-loader's: what Envoy would send and read.
    const Client = grpc.makeGenericClientConstructor(serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor'), 'ExternalProcessor');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
    try {
      const call = client.Process();
      call.on('error', () => undefined); // CANCELLED when the client closes
      const reply = new Promise<any>((resolve) => call.on('data', resolve));
      call.write({ request_headers: { headers: raw({ ':path': '/v1/models', 'x-name': 'Zoë' }), end_of_stream: true } });
      const res = await reply;
      call.end();
      expect(seen[0]).toEqual({ request: 'request_headers', request_headers: { headers: { headers: [{ key: ':path', value: '/v1/models' }, { key: 'x-name', value: 'Zoë' }] }, end_of_stream: true } });
      expect(res.request_headers.response.header_mutation.set_headers[0].header.raw_value.toString()).toBe('hi Zoë');
      expect(res.mode_override).toEqual({ response_body_mode: 'STREAMED' });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
