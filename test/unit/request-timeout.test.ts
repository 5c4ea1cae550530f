import { InFlight } from '../../src/core/attempts';
import { Exchange, type Continue } from '../../src/core/exchange';
import { Headers } from '../../src/core/headers';
import { UpstreamAttempt } from '../../src/core/upstream-attempt';
import { parseConfig } from '../../src/config/load';
import { buildBootstrap } from '../../src/envoy/config/bootstrap';
import { FallbackPlanner } from '../../src/routing/fallbacks';
import { testHost, type TestHost } from './plugins/helpers';

/**
 * REQUEST_TIMEOUT (server.request_timeout_seconds) bounds the whole request: it is the LLM
 * routes' timeout in the Envoy bootstrap, and a provider's own timeout_seconds (sent as
 * x-envoy-upstream-rq-timeout-ms, which replaces the route timeout) never exceeds it.
 */

type Route = { route?: { timeout?: string; cluster?: string; cluster_header?: string } };

function llmRouteTimeouts(env: NodeJS.ProcessEnv, file: Record<string, unknown> = {}): string[] {
  const bootstrap = buildBootstrap(parseConfig(file, '/tmp', env)) as any;
  const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const routes: Route[] = hcm.route_config.virtual_hosts[0].routes;
  return routes.filter((r) => r.route?.cluster_header).map((r) => r.route!.timeout!);
}

test.each([
  ['default', {}, {}, '600s'],
  ['the file', {}, { server: { request_timeout_seconds: 30 } }, '30s'],
  ['REQUEST_TIMEOUT over the file', { REQUEST_TIMEOUT: '2' }, { server: { request_timeout_seconds: 30 } }, '2s'],
  ['REQUEST_TIMEOUT=0 (none)', { REQUEST_TIMEOUT: '0' }, {}, '0s'],
])('the LLM routes’ timeout in the Envoy bootstrap: %s', (_name, env, file, timeout) => {
  const timeouts = llmRouteTimeouts(env, file);
  expect(timeouts.length).toBeGreaterThan(0);
  for (const t of timeouts) expect(t).toBe(timeout);
});

describe('a provider’s own timeout is capped by the request timeout', () => {
  const hosts: TestHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  async function upstreamTimeout(providerSeconds: number, requestTimeoutMs: number | undefined): Promise<string | null | undefined> {
    const h = await testHost({ providers: [{ name: 'slow', type: 'openai-compatible', models: ['slow-*'], timeout_seconds: providerSeconds }] });
    hosts.push(h);
    const plugins = await h.load(['model-router']);
    const inflight = new InFlight();
    const planner = new FallbackPlanner([], h.registry);
    const ex = new Exchange({
      plugins,
      providers: h.registry,
      metrics: h.metrics,
      log: h.log,
      routingHeader: 'x-gateway-cluster',
      inflight,
      attempts: new UpstreamAttempt({ plugins, providers: h.registry, inflight, log: h.log }),
      planRoute: (ctx, target) => planner.plan(ctx, target),
      requestTimeoutMs,
    });
    await ex.requestHeaders(new Headers([[':method', 'POST'], [':path', '/v1/chat/completions']]), false);
    const d = (await ex.requestBody(Buffer.from(JSON.stringify({ model: 'slow-1', messages: [{ role: 'user', content: 'hi' }] })))) as Continue;
    expect(d.kind).toBe('continue');
    return d.headers?.get('x-envoy-upstream-rq-timeout-ms');
  }

  test.each<[string, number, number | undefined, string | undefined]>([
    ['no request timeout known: the provider’s', 10, undefined, '10000'],
    ['request timeout 0 (none): the provider’s', 10, 0, '10000'],
    ['a provider timeout under the request timeout stays', 1.5, 2000, '1500'],
    ['a provider timeout over the request timeout is cut to it', 10, 2000, '2000'],
    ['no provider timeout: no header, the route timeout applies', 0, 2000, undefined],
  ])('%s', async (_name, providerSeconds, requestTimeoutMs, header) => {
    expect(await upstreamTimeout(providerSeconds, requestTimeoutMs)).toBe(header);
  });
});
