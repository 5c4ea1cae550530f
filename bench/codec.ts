/**
 * Micro-benchmark of the processor's gRPC message codecs: proto-loader's generic
 * (de)serializers (protobufjs decode + toObject, fromObject + encode) against src/envoy/extproc/codec.ts
 * and src/ratelimit/codec.ts, on typical ext_proc and RateLimitService messages.
 *
 *   npm run build && node dist/bench/codec.js [iterations]
 *
 * CPU time (user + system) per call, the best of several rounds, old and new interleaved, so
 * that other work on the machine skews both alike. Header messages are also timed with the
 * session's header read (raw_value to text), which the new decoder does itself.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeProcessingRequest, encodeProcessingResponse, EXT_PROC_PROTO } from '../src/envoy/extproc/codec';
import type { HeaderValueOption, ProcessingRequest, ProcessingResponse } from '../src/envoy/extproc/messages';
import { serviceDefinition } from '../src/envoy/extproc/protos';
import { decodeRateLimitRequest, encodeRateLimitResponse, rlsRoot } from '../src/envoy/ratelimit/codec';
import type { RateLimitRequest, RateLimitResponse } from '../src/ratelimit/limiter';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = 5;

const extproc = serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor').Process;
const rls = (
  grpc.loadPackageDefinition(protoLoader.fromJSON(rlsRoot.toJSON(), { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true })) as any
).envoy.service.ratelimit.v3.RateLimitService.service.ShouldRateLimit as grpc.MethodDefinition<RateLimitRequest, RateLimitResponse>;

const headers = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
const set = (h: Record<string, string>): HeaderValueOption[] =>
  Object.entries(h).map(([key, v]) => ({ header: { key, raw_value: Buffer.from(v) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }));

const requestBody = Buffer.from(
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are helpful. '.repeat(30) }, { role: 'user', content: 'Tell me about protobuf. '.repeat(40) }] }),
);
const responseBody = Buffer.from(
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Protobuf is a binary format. '.repeat(30) } }], usage: { total_tokens: 600 } }),
);
const sseChunk = Buffer.from('data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello there"},"finish_reason":null}]}\n\n');
const exchange = '01J2Z3X4Y5W6V7U8T9S0R1Q2P3';

const requests: Record<string, ProcessingRequest> = {
  'request headers (19)': {
    request: 'request_headers',
    request_headers: {
      headers: headers({
        ':authority': 'gateway.example.com:10000',
        ':path': '/v1/chat/completions',
        ':method': 'POST',
        ':scheme': 'http',
        'content-type': 'application/json',
        'content-length': String(requestBody.length),
        authorization: 'Bearer sk-gw-0123456789abcdef0123456789abcdef',
        'user-agent': 'OpenAI/Python 1.54.4',
        accept: 'application/json',
        'accept-encoding': 'gzip, deflate',
        'x-stainless-lang': 'python',
        'x-stainless-package-version': '1.54.4',
        'x-stainless-os': 'Linux',
        'x-stainless-arch': 'x64',
        'x-stainless-runtime': 'CPython',
        'x-stainless-runtime-version': '3.12.3',
        'x-stainless-retry-count': '0',
        'x-forwarded-proto': 'http',
        'x-request-id': '6f1c2a8e-9b7d-4e0f-a3c5-1d2e3f4a5b6c',
      }),
    },
  },
  'request body (1.6 KB)': { request: 'request_body', request_body: { body: requestBody, end_of_stream: true } },
  'upstream attempt headers': {
    request: 'request_headers',
    request_headers: { headers: headers({ ':authority': 'gateway', ':path': '/v1/chat/completions', ':method': 'POST', 'x-request-id': 'abc', 'content-type': 'application/json' }) },
    attributes: {
      'envoy.filters.http.ext_proc': {
        fields: { 'xds.upstream_host_metadata': { stringValue: 'filter_metadata { key: "llm-gateway" value { fields { key: "provider" value { string_value: "openai" } } } }' } },
      },
    },
    metadata_context: { filter_metadata: { 'llm-gateway': { fields: { exchange: { stringValue: exchange } } } } },
  },
  'response headers (8)': {
    request: 'response_headers',
    response_headers: {
      headers: headers({
        ':status': '200',
        'content-type': 'application/json',
        date: 'Tue, 01 Jul 2025 10:00:00 GMT',
        'x-request-id': 'req_abc123',
        'openai-processing-ms': '412',
        'x-ratelimit-limit-requests': '10000',
        'x-ratelimit-remaining-requests': '9999',
        'content-length': '1200',
      }),
    },
  },
  'response body (1 KB)': { request: 'response_body', response_body: { body: responseBody, end_of_stream: true } },
  'streamed chunk': { request: 'response_body', response_body: { body: sseChunk } },
};

const metadata = {
  fields: {
    'llm-gateway': {
      structValue: {
        fields: {
          exchange: { stringValue: exchange },
          rl_key: { stringValue: 'key_1' },
          rl_user: { stringValue: 'alice' },
          rl_model: { stringValue: 'gpt-4o-mini' },
          rl_check_requests: { stringValue: 'yes' },
          tokens: { numberValue: 600 },
        },
      },
    },
  },
};
const responses: Record<string, ProcessingResponse> = {
  'headers reply + mode override': {
    request_headers: { response: {} },
    mode_override: { request_header_mode: 'SEND', request_body_mode: 'BUFFERED', request_trailer_mode: 'SKIP', response_header_mode: 'SEND', response_body_mode: 'BUFFERED', response_trailer_mode: 'SKIP' },
  },
  'body reply: 3 headers, body, metadata': {
    request_body: {
      response: {
        header_mutation: { set_headers: set({ 'x-gateway-cluster': 'chain_gpt', 'content-length': String(requestBody.length), 'x-gateway-exchange': exchange }), remove_headers: ['authorization'] },
        body_mutation: { body: requestBody },
        clear_route_cache: true,
      },
    },
    dynamic_metadata: metadata,
  },
  'upstream attempt reply': {
    request_headers: {
      response: {
        header_mutation: { set_headers: set({ ':path': '/v1/chat/completions', ':authority': 'api.openai.com', authorization: 'Bearer sk-proj-0123456789abcdefghijklmnopqrstuvwxyz' }) },
        clear_route_cache: true,
      },
    },
  },
  'response headers reply': {
    response_headers: { response: { header_mutation: { set_headers: set({ 'x-ratelimit-limit-requests': '100' }), remove_headers: ['x-gateway-ratelimit-limit-requests'] } } },
  },
  'response body reply + metadata': {
    response_body: { response: { body_mutation: { body: responseBody }, header_mutation: { set_headers: set({ 'content-length': String(responseBody.length) }) } } },
    dynamic_metadata: metadata,
  },
  'streamed chunk reply': { response_body: { response: { body_mutation: { body: sseChunk } } } },
  'immediate response (429)': {
    immediate_response: {
      status: { code: 429 },
      headers: { set_headers: set({ 'content-type': 'application/json', 'retry-after': '3' }) },
      body: Buffer.from('{"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}'),
      details: 'gateway_rate_limited',
    },
  },
};

const entries = (e: Record<string, string>) => Object.entries(e).map(([key, value]) => ({ key, value }));
const rlsRequest: RateLimitRequest = {
  domain: 'llm-gateway',
  descriptors: [
    { entries: entries({ kind: 'requests', key: 'key_1', user: 'alice', model: 'gpt-4o-mini' }) },
    { entries: entries({ kind: 'tokens', key: 'key_1', user: 'alice', model: 'gpt-4o-mini' }), hits_addend: { value: '0' } },
  ],
};
const status = (name: string, remaining: number) => ({
  code: 'OK' as const,
  current_limit: { name, requests_per_unit: 1000, unit: 'MINUTE' as const },
  limit_remaining: remaining,
  duration_until_reset: { seconds: 42, nanos: 500_000_000 },
});
const rlsResponse: RateLimitResponse = {
  overall_code: 'OK',
  statuses: [status('rpm', 999), status('tpm', 99_400)],
  response_headers_to_add: ['limit-requests', 'remaining-requests', 'reset-requests', 'limit-tokens', 'remaining-tokens', 'reset-tokens'].map((k) => ({
    key: `x-gateway-ratelimit-${k}`,
    value: '1000',
  })),
};

/** What session.ts does with each decoded header. */
function readHeaders(msg: ProcessingRequest): number {
  let n = 0;
  for (const { key, value, raw_value } of (msg.request_headers ?? msg.response_headers)?.headers?.headers ?? []) {
    n += key.length + (raw_value && raw_value.length ? raw_value.toString('utf8') : (value ?? '')).length;
  }
  return n;
}

function cpuMicros<T>(fn: (arg: T) => unknown, arg: T): number {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(arg);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

function compare<T>(name: string, bytes: number, before: (arg: T) => unknown, after: (arg: T) => unknown, arg: T): void {
  for (let i = 0; i < 10_000; i++) {
    before(arg);
    after(arg);
  }
  let old = Infinity;
  let now = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    old = Math.min(old, cpuMicros(before, arg));
    now = Math.min(now, cpuMicros(after, arg));
  }
  console.log(`${name.padEnd(44)} ${String(bytes).padStart(6)} B   ${old.toFixed(2).padStart(6)} µs → ${now.toFixed(2).padStart(5)} µs   ×${(old / now).toFixed(1)}`);
}

console.log(`${N} calls per round, best of ${ROUNDS}; proto-loader → codec.ts`);
console.log('decode ProcessingRequest');
for (const [name, msg] of Object.entries(requests)) {
  const bytes = extproc.requestSerialize(msg);
  compare(name, bytes.length, extproc.requestDeserialize, decodeProcessingRequest, bytes);
  if (msg.request?.endsWith('headers')) {
    const oldRead = (b: Buffer) => readHeaders(extproc.requestDeserialize(b) as ProcessingRequest);
    const newRead = (b: Buffer) => readHeaders(decodeProcessingRequest(b));
    compare(`  … and reading the header text`, bytes.length, oldRead, newRead, bytes);
  }
}
console.log('encode ProcessingResponse');
for (const [name, msg] of Object.entries(responses)) {
  compare(name, extproc.responseSerialize(msg).length, extproc.responseSerialize, encodeProcessingResponse, msg);
}
console.log('RateLimitService');
const rlsBytes = rls.requestSerialize(rlsRequest);
compare('decode RateLimitRequest (2 descriptors)', rlsBytes.length, rls.requestDeserialize, decodeRateLimitRequest, rlsBytes);
compare('encode RateLimitResponse (2 statuses)', rls.responseSerialize(rlsResponse).length, rls.responseSerialize, encodeRateLimitResponse, rlsResponse);
