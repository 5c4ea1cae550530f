import { CLIENT_KEY, chat, startGateway, testPlugins, waitFor, type GatewayOptions, type RunningGateway } from '../helpers/gateway';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { freePorts } from '../helpers/ports';
import { alertMetricUsages, dashboardMetricUsages, exposedNames, missingNames, SYNTHETIC_METRICS } from '../unit/observability/promql-names';

/**
 * deploy/observability against a real gateway (processor and Envoy) that has served traffic:
 * every metric name a dashboard panel or variable queries, and every one an alert rule uses,
 * is offered by the processor's /metrics or Envoy's /stats/prometheus (a histogram's _bucket,
 * _sum and _count count; `up` is Prometheus's own). Structure and PromQL validity are checked
 * in test/unit/observability.
 */

/**
 * startGateway retries on ports taken by Envoy ("Address already in use"); a port taken before
 * the processor binds it fails as Node's "EADDRINUSE: address already in use": retry that too.
 */
async function startGatewayRetrying(opts: GatewayOptions): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGateway(opts);
    } catch (err) {
      if (!/EADDRINUSE/.test((err as Error).message) || attempt >= 3) throw err;
    }
  }
}

let fake: FakeOpenAI;
let gw: RunningGateway;
let processorText: string;
let envoyText: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // A provider nobody listens for: its requests fail upstream (5xx, connection failures).
  const [closed] = await freePorts(1);
  gw = await startGatewayRetrying({
    config: {
      providers: [
        { name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] },
        { name: 'broken', type: 'openai-compatible', base_url: `http://127.0.0.1:${closed}/v1`, api_key: 'sk-upstream', models: ['broken-*'] },
      ],
      keys: { entries: { [CLIENT_KEY]: { name: 'test-key', user: 'tester', team: 'qa' } } },
      pricing: { models: { 'gpt-4o-mini': { input: 0.15, output: 0.6 }, 'gpt-limited': { input: 1, output: 2 } } },
      rate_limits: { rules: [{ name: 'limited-rpm', match: { key: '*', model: 'gpt-limited' }, requests_per_minute: 1 }] },
      plugins: testPlugins({ use: 'rate-limit-descriptors' }, { use: 'response-cache', options: { enabled: true, redis_url: '' } }),
    },
  });

  expect(Object.values(gw.ports)).not.toContain(closed);

  const ask = (model: string, content: string, extra: object = {}, headers: Record<string, string> = {}) =>
    chat(gw.url, { model, messages: [{ role: 'user', content }], ...extra }, headers);

  // A completion, then the same question answered from the response cache.
  const miss = await ask('gpt-4o-mini', 'observability cached question');
  expect(miss.status).toBe(200);
  expect(miss.headers.get('x-gateway-cache')).toBe('miss');
  await miss.text();
  // The answer is stored once the exchange completes, just after the client has it.
  await waitFor(async () => /^gateway_response_cache_stores_total\{backend="memory",result="stored"\} 1$/m.test(await (await fetch(`${gw.url}/metrics`)).text()));
  const hit = await ask('gpt-4o-mini', 'observability cached question');
  expect(hit.status).toBe(200);
  expect(hit.headers.get('x-gateway-cache')).toBe('hit');
  await hit.text();
  // A stream (time to first byte), with its usage.
  const stream = await ask('gpt-4o-mini', 'observability streamed question', { stream: true, stream_options: { include_usage: true } });
  expect(stream.status).toBe(200);
  expect(await stream.text()).toContain('data: [DONE]');
  // One request a minute for gpt-limited: the second is refused by the rate limit.
  const first = await ask('gpt-limited', 'observability limited one');
  expect(first.status).toBe(200);
  await first.text();
  const limited = await ask('gpt-limited', 'observability limited two');
  expect(limited.status).toBe(429);
  await limited.text();
  // A provider that cannot be reached, and a caller with a bad key.
  const broken = await ask('broken-model', 'observability broken provider');
  expect(broken.status).toBeGreaterThanOrEqual(500);
  await broken.text();
  const refused = await ask('gpt-4o-mini', 'observability bad key', {}, { authorization: 'Bearer sk-not-a-key' });
  expect(refused.status).toBe(401);
  await refused.text();

  const scrape = async (url: string) => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return res.text();
  };
  // Usage records are written off the request path: wait for them, as a scrape would later.
  processorText = await waitFor(async () => {
    const text = await scrape(`http://127.0.0.1:${gw.ports.admin}/metrics`);
    return /^gateway_usage_records_total\{result="written"\}/m.test(text) ? text : '';
  });
  envoyText = await scrape(`http://127.0.0.1:${gw.ports.envoyAdmin}/stats/prometheus`);
}, 90000);

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

test('the traffic reached every family the dashboard shows: statuses, cache, rate limits, first bytes, upstream failures', () => {
  expect(processorText).toMatch(/^gateway_requests_total\{provider="openai",model="gpt-limited",endpoint="chat.completions",status="429"\} 1$/m);
  expect(processorText).toMatch(/^gateway_requests_total\{provider="broken",model="broken-model",endpoint="chat.completions",status="5\d\d"\} 1$/m);
  expect(processorText).toMatch(/^gateway_response_cache_lookups_total\{backend="memory",result="hit"\} 1$/m);
  expect(processorText).toMatch(/^gateway_ratelimit_decisions_total\{rule="limited-rpm",decision="over_limit"\} 1$/m);
  expect(processorText).toMatch(/^gateway_time_to_first_byte_seconds_count\{provider="openai",model="gpt-4o-mini"\} [1-9]/m);
  expect(processorText).toMatch(/^gateway_cost_usd_total\{provider="openai",model="gpt-4o-mini"\} /m);
  expect(envoyText).toMatch(/^envoy_cluster_ratelimit_over_limit\{envoy_cluster_name="provider_openai"\} 1$/m);
  expect(envoyText).toMatch(/^envoy_cluster_upstream_cx_connect_fail\{envoy_cluster_name="provider_broken"\} [1-9]/m);
  expect(envoyText).toMatch(/^envoy_http_ext_proc_streams_started\{envoy_http_conn_manager_prefix="gateway"\} [1-9]/m);
});

test('every metric a dashboard panel or variable queries exists in /metrics or /stats/prometheus', () => {
  const usages = dashboardMetricUsages();
  const offered = new Set([...exposedNames(processorText), ...exposedNames(envoyText)]);
  // The tokenizer found the dashboard's names, from both endpoints.
  expect(usages.size).toBeGreaterThan(40);
  expect([...usages.keys()].filter((n) => n.startsWith('envoy_')).length).toBeGreaterThan(15);
  expect([...usages.keys()].filter((n) => n.startsWith('gateway_')).length).toBeGreaterThan(15);
  expect(missingNames(usages, offered)).toEqual([]);
});

test('every metric an alert rule uses exists in /metrics or /stats/prometheus', () => {
  const usages = alertMetricUsages();
  const offered = new Set([...exposedNames(processorText), ...exposedNames(envoyText)]);
  expect(usages.size).toBeGreaterThanOrEqual(8);
  expect(missingNames(usages, offered)).toEqual([]);
  // Prometheus's own `up` is the only name not scraped.
  expect([...usages.keys()].filter((n) => !offered.has(n))).toEqual([...SYNTHETIC_METRICS].filter((n) => usages.has(n)));
});
