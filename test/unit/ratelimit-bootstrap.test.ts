import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { buildBootstrap, providerClusters, writeBootstrap } from '../../src/envoy/config/bootstrap';
import { EnvoySupervisor, findEnvoy } from '../../src/envoy/supervisor';
import { mappingsFrom, ProviderRegistry, toRuntime } from '../../src/control/provider-registry';
import { FallbackPlanner } from '../../src/routing/fallbacks';

/** The rate limiting parts of the generated bootstrap, checked by Envoy itself. */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bootstrap-'));

function generate(raw: object): { file: string; bootstrap: any; hcm: any } {
  const config = parseConfig(structuredClone(raw), dir, {});
  const providers = config.providers.map((p) => toRuntime(p, {}));
  const planner = new FallbackPlanner(config.fallbacks, new ProviderRegistry(providers, mappingsFrom(config.models)));
  const bootstrap: any = buildBootstrap(config, planner);
  bootstrap.static_resources.clusters.push(...providerClusters(config, providers, planner));
  delete bootstrap.dynamic_resources;
  const file = writeBootstrap(path.join(dir, `b-${Math.random().toString(36).slice(2)}.yaml`), bootstrap);
  return { file, bootstrap, hcm: bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config };
}

const withLimits = {
  providers: [
    { name: 'a', type: 'openai-compatible', base_url: 'http://10.0.0.1:8000/v1', api_key: 'k', models: ['gpt-*'] },
    { name: 'b', type: 'openai-compatible', base_url: 'http://10.0.0.2:8000/v1', api_key: 'k', models: ['other-*'] },
  ],
  fallbacks: [{ model: 'gpt-4o', fallback_models: ['other-1'] }],
  rate_limits: {
    failure_mode: 'fail_closed',
    timeout_ms: 300,
    rules: [{ name: 'per-key', match: { key: '*' }, requests_per_minute: 10, tokens_per_minute: 1000 }],
    local: { requests_per_second: 50, burst: 100 },
  },
};

test('rate limits, token charging and the local limit pass envoy --mode validate', () => {
  const { file } = generate(withLimits);
  expect(EnvoySupervisor.validate(findEnvoy().bin, file)).toBeUndefined();
});

test('filters: local limit first, ext_proc publishing metadata, the global limit before the router', () => {
  const { hcm } = generate(withLimits);
  expect(hcm.http_filters.map((f: any) => f.name)).toEqual([
    'envoy.filters.http.local_ratelimit',
    'envoy.filters.http.ext_proc',
    'envoy.filters.http.ratelimit',
    'envoy.filters.http.buffer',
    'envoy.filters.http.router',
  ]);
  const [local, extproc, global] = hcm.http_filters.map((f: any) => f.typed_config);
  expect(local.filter_enabled.default_value).toEqual({ numerator: 100, denominator: 'HUNDRED' });
  expect(local.filter_enforced.default_value).toEqual({ numerator: 100, denominator: 'HUNDRED' });
  expect(local.token_bucket).toEqual({ max_tokens: 100, tokens_per_fill: 50, fill_interval: '1s' });
  expect(extproc.metadata_options.receiving_namespaces.untyped).toEqual(['llm-gateway']);
  expect(global).toMatchObject({
    domain: 'llm-gateway',
    timeout: '0.3s',
    failure_mode_deny: true,
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'gateway_processor' } }, transport_api_version: 'V3' },
  });
});

test('every LLM route (default and fallback chains) checks requests and tokens before, and charges tokens on stream done', () => {
  const { hcm } = generate(withLimits);
  const routes = hcm.route_config.virtual_hosts[0].routes;
  const llm = routes.filter((r: any) => r.route.cluster_header);
  expect(llm.length).toBe(2);
  for (const r of llm) {
    const policies = r.typed_per_filter_config['envoy.filters.http.ratelimit'].rate_limits;
    expect(policies).toHaveLength(3);
    const [requests, check, charge] = policies;
    expect(requests.actions[0]).toEqual({ generic_key: { descriptor_key: 'kind', descriptor_value: 'requests' } });
    expect(requests.actions.map((a: any) => a.metadata?.descriptor_key).filter(Boolean)).toEqual(['check', 'key', 'user', 'team', 'identity', 'model', 'quota', 'principal']);
    // Only `check` is required: Envoy calls the service only when the processor says a limit applies.
    for (const p of policies) {
      const required = p.actions.filter((a: any) => a.metadata && !a.metadata.skip_if_absent).map((a: any) => a.metadata.metadata_key.path[0].key);
      expect(required).toEqual([p === requests ? 'rl_check_requests' : 'rl_check_tokens']);
    }
    expect(check.hits_addend).toEqual({ number: 0 });
    expect(check.apply_on_stream_done).toBeUndefined();
    expect(charge.hits_addend).toEqual({ format: '%DYNAMIC_METADATA(llm-gateway:tokens)%' });
    expect(charge.apply_on_stream_done).toBe(true);
  }
  // Admin routes: no rate limit policies, and exempt from the local limit.
  const health = routes.find((r: any) => r.match.path === '/health');
  expect(health.typed_per_filter_config['envoy.filters.http.ratelimit']).toBeUndefined();
  expect(health.typed_per_filter_config['envoy.filters.http.local_ratelimit'].filter_enabled.default_value.numerator).toBe(0);
});

test('without token rules only requests are checked; without `local` there is no local filter', () => {
  const { hcm, file } = generate({});
  expect(hcm.http_filters.map((f: any) => f.name)).not.toContain('envoy.filters.http.local_ratelimit');
  expect(hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.ratelimit').typed_config.failure_mode_deny).toBe(false);
  const llm = hcm.route_config.virtual_hosts[0].routes.at(-1);
  expect(llm.typed_per_filter_config['envoy.filters.http.ratelimit'].rate_limits).toHaveLength(1);
  expect(EnvoySupervisor.validate(findEnvoy().bin, file)).toBeUndefined();
});
