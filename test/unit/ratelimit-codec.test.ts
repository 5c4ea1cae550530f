import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeRateLimitRequest, encodeRateLimitResponse, rlsRoot } from '../../src/envoy/ratelimit/codec';
import type { RateLimitResponse } from '../../src/ratelimit/limiter';

/**
 * The RateLimitService codec against protobufjs's reference encoding: requests as Envoy encodes
 * them must decode to what proto-loader gave service.ts before; responses must encode to the
 * very bytes proto-loader wrote.
 */

const reference = (
  grpc.loadPackageDefinition(protoLoader.fromJSON(rlsRoot.toJSON(), { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true })) as any
).envoy.service.ratelimit.v3.RateLimitService.service.ShouldRateLimit as grpc.MethodDefinition<unknown, unknown>;
const RequestType = rlsRoot.lookupType('envoy.service.ratelimit.v3.RateLimitRequest');
const ResponseType = rlsRoot.lookupType('envoy.service.ratelimit.v3.RateLimitResponse');

const envoyBytes = (obj: Record<string, unknown>): Buffer => Buffer.from(RequestType.encode(RequestType.fromObject(obj)).finish());

/** proto-loader's decoding, less the fields service.ts never reads (limit override, is_negative_hits). */
function expected(bytes: Buffer): unknown {
  const old = reference.requestDeserialize(bytes) as { descriptors?: Record<string, unknown>[] };
  for (const d of old.descriptors ?? []) {
    delete d.limit;
    delete d.is_negative_hits;
  }
  return old;
}

const entries = (e: Record<string, string>) => Object.entries(e).map(([key, value]) => ({ key, value }));

describe('decodeRateLimitRequest', () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      'the request check: requests and tokens descriptors, hits_addend 0 on tokens',
      {
        domain: 'llm-gateway',
        descriptors: [
          { entries: entries({ kind: 'requests', key: 'key_1', user: 'alice', model: 'gpt-4o-mini' }) },
          { entries: entries({ kind: 'tokens', key: 'key_1' }), hits_addend: {} },
        ],
      },
    ],
    ['the charge on stream done: per-descriptor hits_addend', { domain: 'llm-gateway', descriptors: [{ entries: entries({ kind: 'tokens', key: 'k' }), hits_addend: { value: 1234 } }] }],
    ['a 64-bit hits_addend', { domain: 'd', descriptors: [{ entries: entries({ kind: 'tokens' }), hits_addend: { value: '5000000000' } }] }],
    ['the request-level hits_addend', { domain: 'd', descriptors: [{ entries: entries({ kind: 'requests' }) }], hits_addend: 3 }],
    ['non-ASCII entry values', { domain: 'llm-gateway', descriptors: [{ entries: entries({ kind: 'requests', user: 'zoë@例え.jp', team: '🚀 team' }) }] }],
    [
      'fields service.ts does not read are skipped',
      { domain: 'd', descriptors: [{ entries: entries({ kind: 'tokens' }), limit: { requests_per_unit: 5, unit: 'MINUTE' }, is_negative_hits: true, hits_addend: { value: 7 } }] },
    ],
    ['no descriptors', { domain: 'd' }],
    ['an empty request', {}],
  ];

  test.each(cases)('%s', (_name, obj) => {
    const bytes = envoyBytes(obj);
    expect(decodeRateLimitRequest(bytes)).toEqual(expected(bytes));
  });

  test('many descriptors with many entries', () => {
    const descriptors = Array.from({ length: 200 }, (_, i) => ({
      entries: entries(Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`dim_${j}`, j === 3 ? `ünïcode-${i}` : `value-${i}-${j}`.repeat(1 + (j % 3))]))),
      ...(i % 3 === 0 ? { hits_addend: { value: i * 1000 } } : i % 3 === 1 ? { hits_addend: {} } : {}),
    }));
    const bytes = envoyBytes({ domain: 'llm-gateway', descriptors, hits_addend: 2 });
    const req = decodeRateLimitRequest(bytes);
    expect(req).toEqual(expected(bytes));
    expect(req.descriptors).toHaveLength(200);
    expect(req.descriptors![3].hits_addend).toEqual({ value: '3000' });
    expect(req.descriptors![4].hits_addend).toEqual({});
    expect(req.descriptors![5].hits_addend).toBeUndefined();
    expect(req.descriptors![7].entries![3]).toEqual({ key: 'dim_3', value: 'ünïcode-7' });
  });
});

const ok = (name: string, remaining: number) => ({
  code: 'OK' as const,
  current_limit: { name, requests_per_unit: 1000, unit: 'MINUTE' as const },
  limit_remaining: remaining,
  duration_until_reset: { seconds: 42, nanos: 500_000_000 },
});

describe('encodeRateLimitResponse', () => {
  const cases: [string, RateLimitResponse][] = [
    ['no limits matched', { overall_code: 'OK', statuses: [{ code: 'OK' }, { code: 'OK' }], response_headers_to_add: [] }],
    [
      'allowed, with the internal x-gateway-ratelimit-* headers',
      {
        overall_code: 'OK',
        statuses: [ok('rpm', 999), ok('tpm', 0), { code: 'OK' }],
        response_headers_to_add: [
          { key: 'x-gateway-ratelimit-limit-requests', value: '1000' },
          { key: 'x-gateway-ratelimit-remaining-requests', value: '999' },
          { key: 'x-gateway-ratelimit-reset-requests', value: '42.5s' },
        ],
      },
    ],
    [
      'refused: OVER_LIMIT, retry-after and an OpenAI error body',
      {
        overall_code: 'OVER_LIMIT',
        statuses: [
          { code: 'OVER_LIMIT', current_limit: { name: 'daily — équipe', requests_per_unit: 5, unit: 'DAY' }, limit_remaining: 0, duration_until_reset: { seconds: 86_399, nanos: 0 } },
          { code: 'OK', current_limit: { name: 'odd window', requests_per_unit: 7, unit: 'UNKNOWN' }, limit_remaining: 6, duration_until_reset: { seconds: 0, nanos: 1 } },
        ],
        response_headers_to_add: [
          { key: 'x-ratelimit-limit-requests', value: '5' },
          { key: 'retry-after', value: '86400' },
          { key: 'content-type', value: 'application/json' },
        ],
        raw_body: Buffer.from(JSON.stringify({ error: { message: 'Rate limit reached — réessayez', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } })),
      },
    ],
    ['large counts and durations', { overall_code: 'OK', statuses: [{ ...ok('big', 4_000_000_000), duration_until_reset: { seconds: 10_000_000_000, nanos: 999_999_999 } }], response_headers_to_add: [] }],
    ['an empty raw body', { overall_code: 'OVER_LIMIT', statuses: [], response_headers_to_add: [], raw_body: Buffer.alloc(0) }],
  ];

  test.each(cases)('%s', (_name, res) => {
    const mine = encodeRateLimitResponse(res);
    expect(mine.equals(reference.responseSerialize(res))).toBe(true);
    const back = ResponseType.toObject(ResponseType.decode(mine), { longs: Number, enums: String, defaults: false });
    expect(back.overall_code).toBe(res.overall_code);
    expect(back.statuses ?? []).toEqual(res.statuses);
    expect(back.response_headers_to_add ?? []).toEqual(res.response_headers_to_add);
    if (res.raw_body?.length) expect(Buffer.from(back.raw_body).equals(res.raw_body)).toBe(true);
  });

  test('statuses for many descriptors', () => {
    const res: RateLimitResponse = { overall_code: 'OK', statuses: Array.from({ length: 300 }, (_, i) => (i % 2 ? ok(`rule-${i}`, i) : { code: 'OK' })), response_headers_to_add: [] };
    expect(encodeRateLimitResponse(res).equals(reference.responseSerialize(res))).toBe(true);
  });
});
