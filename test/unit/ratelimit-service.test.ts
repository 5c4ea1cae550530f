import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/observability/logger';
import { compileRules } from '../../src/ratelimit/config';
import { MemoryCounters, type CounterBackend } from '../../src/ratelimit/counters';
import { rateLimitServiceDefinition } from '../../src/envoy/ratelimit/protos';
import { goDuration, RateLimiter, RateLimitUnavailable, type RateLimitRequest } from '../../src/ratelimit/limiter';
import { rateLimitService } from '../../src/envoy/ratelimit/service';

const log = createLogger('silent');

function limiter(opts: { backend?: CounterBackend; failureMode?: 'fail_open' | 'fail_closed' } = {}) {
  const registry = new Registry();
  const l = new RateLimiter({
    limits: compileRules([
      { name: 'rpm', match: { key: '*' }, requests_per_minute: 2 },
      { name: 'tpm', match: { key: '*' }, tokens_per_minute: 100 },
    ]),
    backend: opts.backend ?? new MemoryCounters(),
    failureMode: opts.failureMode ?? 'fail_open',
    log,
    registry,
  });
  return { l, registry };
}

const requests = (key: string): RateLimitRequest => ({
  domain: 'llm-gateway',
  descriptors: [
    { entries: [{ key: 'kind', value: 'requests' }, { key: 'key', value: key }] },
    { entries: [{ key: 'kind', value: 'tokens' }, { key: 'key', value: key }], hits_addend: { value: '0' } },
  ],
});
const charge = (key: string, tokens: number): RateLimitRequest => ({
  domain: 'llm-gateway',
  descriptors: [{ entries: [{ key: 'kind', value: 'tokens' }, { key: 'key', value: key }], hits_addend: { value: String(tokens) } }],
});
const header = (res: { response_headers_to_add: { key: string; value: string }[] }, name: string) => res.response_headers_to_add.find((h) => h.key === name)?.value;

describe('RateLimiter', () => {
  test('applicable kinds come from what the request published; rules with nothing published warn once', () => {
    const warnings: string[] = [];
    const spy = { ...log, warn: (_o: object, msg?: string) => void warnings.push(String(msg)) } as unknown as typeof log;
    const l = new RateLimiter({ limits: compileRules([{ name: 'rpm', match: { key: '*' }, requests_per_minute: 2 }]), backend: new MemoryCounters(), failureMode: 'fail_open', log: spy });
    expect(l.applicableKinds({ dimensions: { key: 'k1' } })).toEqual(['requests']);
    expect(warnings).toEqual([]);
    expect(l.applicableKinds({ dimensions: {} })).toEqual([]);
    expect(l.applicableKinds({ dimensions: {} })).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('rate-limit-descriptors');
    // A quota alone needs no rule.
    expect(l.applicableKinds({ dimensions: {}, quota: { principal: 'p', limit: 5, windowSeconds: 60 } })).toEqual(['requests']);
  });

  test('allowed calls: per-descriptor statuses and the limits under internal header names', async () => {
    const { l } = limiter();
    const res = await l.shouldRateLimit(requests('k1'));
    expect(res.overall_code).toBe('OK');
    expect(res.statuses).toEqual([
      { code: 'OK', current_limit: { name: 'rpm', requests_per_unit: 2, unit: 'MINUTE' }, limit_remaining: 1, duration_until_reset: { seconds: 60, nanos: 0 } },
      { code: 'OK', current_limit: { name: 'tpm', requests_per_unit: 100, unit: 'MINUTE' }, limit_remaining: 100, duration_until_reset: { seconds: 60, nanos: 0 } },
    ]);
    expect(header(res, 'x-gateway-ratelimit-limit-requests')).toBe('2');
    expect(header(res, 'x-gateway-ratelimit-remaining-requests')).toBe('1');
    expect(header(res, 'x-gateway-ratelimit-reset-requests')).toBe('1m0s');
    expect(header(res, 'x-gateway-ratelimit-remaining-tokens')).toBe('100');
    expect(res.raw_body).toBeUndefined();
  });

  test('over the request limit: OVER_LIMIT, OpenAI headers, retry-after and an OpenAI error body', async () => {
    const { l, registry } = limiter();
    await l.shouldRateLimit(requests('k1'));
    await l.shouldRateLimit(requests('k1'));
    const res = await l.shouldRateLimit(requests('k1'));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', limit_remaining: 0 });
    expect(res.statuses[1]).toMatchObject({ code: 'OK' });
    expect(header(res, 'x-ratelimit-limit-requests')).toBe('2');
    expect(header(res, 'x-ratelimit-remaining-requests')).toBe('0');
    expect(header(res, 'x-ratelimit-reset-requests')).toMatch(/^(1m0s|\d+(\.\d+)?s)$/);
    expect(Number(header(res, 'retry-after'))).toBeGreaterThanOrEqual(59);
    expect(Number(header(res, 'retry-after-ms'))).toBeGreaterThan(59_000);
    const body = JSON.parse(res.raw_body!.toString());
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null });
    expect(body.error.message).toContain('rpm: limit 2 requests per minute');
    // Other keys have their own counters.
    expect((await l.shouldRateLimit(requests('k2'))).overall_code).toBe('OK');
    const metrics = await registry.metrics();
    expect(metrics).toContain('gateway_ratelimit_decisions_total{rule="rpm",decision="ok"} 3');
    expect(metrics).toContain('gateway_ratelimit_decisions_total{rule="rpm",decision="over_limit"} 1');
  });

  test('tokens: charged after the response, refused before the next request once past the limit', async () => {
    const { l, registry } = limiter();
    expect((await l.shouldRateLimit(requests('k1'))).overall_code).toBe('OK');
    const charged = await l.shouldRateLimit(charge('k1', 120));
    expect(charged.overall_code).toBe('OK');
    const res = await l.shouldRateLimit(requests('k1'));
    expect(res.overall_code).toBe('OVER_LIMIT');
    expect(res.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
    expect(header(res, 'x-ratelimit-remaining-tokens')).toBe('0');
    expect(JSON.parse(res.raw_body!.toString()).error.message).toContain('tpm: limit 100 tokens per minute, used 120');
    expect(await registry.metrics()).toContain('gateway_ratelimit_decisions_total{rule="tpm",decision="charged"} 1');
  });

  test('sliding windows: retry-after is the wait for one more request, remaining and reset agree', async () => {
    let now = 1_700_000_000_000;
    const start = now;
    const l = new RateLimiter({
      limits: compileRules([{ name: 'rpm', match: { key: '*' }, requests_per_minute: 10 }]),
      backend: new MemoryCounters(() => now),
      failureMode: 'fail_open',
      log,
    });
    const ask = () => l.shouldRateLimit({ descriptors: [{ entries: [{ key: 'kind', value: 'requests' }, { key: 'key', value: 'k' }] }] });
    // Ten requests, one every 6 s: the limit, evenly spent over the first window.
    for (let i = 0; i < 10; i++) {
      now = start + i * 6000;
      const res = await ask();
      expect(res.overall_code).toBe('OK');
      expect(header(res, 'x-gateway-ratelimit-remaining-requests')).toBe(String(9 - i));
    }
    // The last one took the last unit: its reset is already the wait for the next, 6 s after the
    // first request slid out (the ten hits are taken as spread over the 54 s they span).
    now = start + 60_000;
    const refused = await ask();
    expect(refused.overall_code).toBe('OVER_LIMIT');
    expect(header(refused, 'x-ratelimit-remaining-requests')).toBe('0');
    const waitMs = Number(header(refused, 'retry-after-ms'));
    expect(waitMs).toBe(5400);
    expect(header(refused, 'retry-after')).toBe('6');
    expect(header(refused, 'x-ratelimit-reset-requests')).toBe('5.4s');
    expect(refused.statuses[0].duration_until_reset).toEqual({ seconds: 5, nanos: 400_000_000 });
    now += waitMs - 1;
    expect((await ask()).overall_code).toBe('OVER_LIMIT');
    now += 1;
    const ok = await ask();
    expect(ok.overall_code).toBe('OK');
    // Steady at the limit: no room left, the reset says when the next one will fit.
    expect(header(ok, 'x-gateway-ratelimit-remaining-requests')).toBe('0');
    expect(header(ok, 'x-gateway-ratelimit-reset-requests')).toBe('5.4s');
    await l.close();
  });

  test('descriptors no rule matches: OK without statuses detail or headers', async () => {
    const { l } = limiter();
    const res = await l.shouldRateLimit({ descriptors: [{ entries: [{ key: 'kind', value: 'requests' }, { key: 'team', value: 'x' }] }] });
    expect(res).toEqual({ overall_code: 'OK', statuses: [{ code: 'OK' }], response_headers_to_add: [] });
  });

  const broken: CounterBackend = { name: 'redis', apply: () => Promise.reject(new Error('ECONNREFUSED')), close: async () => undefined };

  test('backend down under fail_open: OK, and counted', async () => {
    const { l, registry } = limiter({ backend: broken, failureMode: 'fail_open' });
    expect((await l.shouldRateLimit(requests('k1'))).overall_code).toBe('OK');
    expect(await registry.metrics()).toContain('gateway_ratelimit_backend_errors_total{backend="redis"} 1');
  });

  test('backend down under fail_closed: an error (Envoy denies), and counted', async () => {
    const { l, registry } = limiter({ backend: broken, failureMode: 'fail_closed' });
    await expect(l.shouldRateLimit(requests('k1'))).rejects.toBeInstanceOf(RateLimitUnavailable);
    expect(await registry.metrics()).toContain('gateway_ratelimit_backend_errors_total{backend="redis"} 1');
  });
});

test.each([
  [0, '0ms'],
  [250, '250ms'],
  [1500, '1.5s'],
  [59_945, '59.945s'],
  [60_000, '1m0s'],
  [3_599_000, '59m59s'],
  [3_600_000, '1h0m0s'],
])('goDuration(%i) = %s', (ms, text) => {
  expect(goDuration(ms)).toBe(text);
});

describe('the gRPC service', () => {
  test("decodes Envoy's per-descriptor hits_addend (bytes captured from Envoy 1.40)", () => {
    // domain "test", descriptor [kind=tokens] with hits_addend { value: 77 }: Envoy's stream-done call.
    const bytes = Buffer.from('0a047465737412140a0e0a046b696e641206746f6b656e731a02084d', 'hex');
    const req = rateLimitServiceDefinition().ShouldRateLimit.requestDeserialize(bytes) as RateLimitRequest;
    expect(req.domain).toBe('test');
    expect(req.descriptors![0].hits_addend).toEqual({ value: '77' });
    // And an explicit 0 (the token check before the request) stays distinguishable from none.
    const zero = Buffer.from('0a047465737412120a0e0a046b696e641206746f6b656e731a00', 'hex');
    expect((rateLimitServiceDefinition().ShouldRateLimit.requestDeserialize(zero) as RateLimitRequest).descriptors![0].hits_addend).toEqual({});
  });

  test('answers ShouldRateLimit over gRPC, and UNAVAILABLE when fail_closed cannot count', async () => {
    const server = new grpc.Server();
    const ok = limiter().l;
    const closed = limiter({ backend: { name: 'redis', apply: () => Promise.reject(new Error('down')), close: async () => undefined }, failureMode: 'fail_closed' }).l;
    let current = ok;
    const svc = rateLimitService({ shouldRateLimit: (r: RateLimitRequest) => current.shouldRateLimit(r) } as RateLimiter);
    server.addService(svc.definition, svc.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const Client = grpc.makeGenericClientConstructor(svc.definition, 'RateLimitService');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
    const call = (req: RateLimitRequest) =>
      new Promise<any>((resolve, reject) => client.ShouldRateLimit(req, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))));
    try {
      const res = await call(requests('k1'));
      expect(res.overall_code).toBe('OK');
      expect(res.statuses[0].current_limit).toMatchObject({ name: 'rpm', requests_per_unit: 2, unit: 'MINUTE' });
      current = closed;
      await expect(call(requests('k1'))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
