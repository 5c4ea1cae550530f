import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { autoWorkers, resolveWorkers, workerCount } from '../../src/config/workers';
import { embeddedDefaults } from '../../src/config/defaults';
import { buildBootstrap, providerClusters, ROUTING_HEADER, writeBootstrap } from '../../src/envoy/config/bootstrap';
import { mappingsFrom, ProviderRegistry } from '../../src/control/provider-registry';
import { FallbackPlanner } from '../../src/routing/fallbacks';
import { providerCluster } from '../../src/envoy/config/clusters';
import { EnvoySupervisor, findEnvoy } from '../../src/envoy/supervisor';
import { toRuntime } from '../../src/control/provider-registry';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bootstrap-'));

/**
 * The bootstrap plus, for validation, the clusters the processor would serve over CDS placed
 * among the static ones (`envoy --mode validate` does not fetch dynamic resources).
 */
function generate(raw: object, env: NodeJS.ProcessEnv = {}): { file: string; bootstrap: any } {
  const config = parseConfig(structuredClone(raw), dir, env);
  const providers = config.providers.map((p) => toRuntime(p, env));
  const planner = new FallbackPlanner(config.fallbacks, new ProviderRegistry(providers, mappingsFrom(config.models)));
  const bootstrap: any = buildBootstrap(config, planner);
  bootstrap.static_resources.clusters.push(...providerClusters(config, providers, planner));
  delete bootstrap.dynamic_resources;
  const file = writeBootstrap(path.join(dir, `b-${Math.random().toString(36).slice(2)}.yaml`), bootstrap);
  return { file, bootstrap };
}

describe('generated Envoy bootstrap', () => {
  const envoy = findEnvoy().bin;

  test('the embedded defaults pass envoy --mode validate', () => {
    const { file } = generate(embeddedDefaults, { OPENAI_API_KEY: 'sk-x' });
    expect(EnvoySupervisor.validate(envoy, file)).toBeUndefined();
  });

  test('a configuration with TLS and plain providers passes envoy --mode validate', () => {
    const { file, bootstrap } = generate({
      server: { http_port: 18080, max_request_body_bytes: 1048576 },
      providers: [
        { name: 'tls', type: 'openai-compatible', base_url: 'https://llm.example.com/v1', api_key: 'k', models: ['gpt-*'] },
        { name: 'plain', type: 'anthropic', base_url: 'http://10.1.2.3:8000/v1' },
      ],
      fallbacks: [{ model: 'gpt-4o', fallback_models: ['claude-sonnet-4-5'] }],
    });
    expect(EnvoySupervisor.validate(envoy, file)).toBeUndefined();
    const clusters = bootstrap.static_resources.clusters.map((c: any) => c.name);
    expect(clusters).toEqual(expect.arrayContaining(['provider_tls', 'provider_plain', 'chain_0_tls']));
    const chain = bootstrap.static_resources.clusters.find((c: any) => c.name === 'chain_0_tls');
    expect(chain.cluster_type.typed_config.clusters).toEqual(['provider_tls', 'provider_plain']);
    const chainRoute = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes.find(
      (r: any) => r.match.headers?.[0]?.string_match?.prefix === 'chain_0_',
    );
    expect(chainRoute.route.retry_policy.retry_priority.name).toBe('envoy.retry_priorities.previous_priorities');
    const listener = bootstrap.static_resources.listeners[0];
    expect(listener.per_connection_buffer_limit_bytes).toBe(1048576);
    // No port sharing with a second gateway, yet connections spread over every worker.
    expect([listener.enable_reuse_port, listener.connection_balance_config]).toEqual([false, { exact_balance: {} }]);
    expect(bootstrap.admin.address.socket_address.address).toBe('127.0.0.1');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('"k"');
  });

  test('a broken bootstrap is reported by validation', () => {
    const file = path.join(dir, 'broken.yaml');
    fs.writeFileSync(file, 'static_resources: { clusters: [ { name: x, type: NOPE } ] }\n');
    expect(EnvoySupervisor.validate(envoy, file)).toMatch(/NOPE|invalid|error/i);
  });

  test('LLM routes pick the cluster from the routing header and strip it before the upstream', () => {
    const { bootstrap } = generate({});
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const llm = hcm.route_config.virtual_hosts[0].routes.at(-1);
    expect(llm.route.cluster_header).toBe(ROUTING_HEADER);
    expect(llm.request_headers_to_remove).toContain(ROUTING_HEADER);
    expect(llm.route.retry_policy.retriable_status_codes).toEqual([429, 502, 503]);
    expect(hcm.http_filters.map((f: any) => f.name)).toEqual(['envoy.filters.http.ext_proc', 'envoy.filters.http.ratelimit', 'envoy.filters.http.buffer', 'envoy.filters.http.router']);
    const extproc = hcm.http_filters[0].typed_config;
    // Response processing is switched on per request by the processor (mode_override).
    expect(extproc.processing_mode).toMatchObject({ request_body_mode: 'BUFFERED', response_header_mode: 'SKIP', response_body_mode: 'NONE' });
    expect(extproc.allow_mode_override).toBe(true);
    expect(extproc.failure_mode_allow).toBe(false);
  });
});

describe('processor workers in the bootstrap', () => {
  const withChain = {
    providers: [
      { name: 'a', type: 'openai-compatible', base_url: 'http://127.0.0.1:7001/v1', models: ['m-a'] },
      { name: 'b', type: 'openai-compatible', base_url: 'http://127.0.0.1:7002/v1', models: ['m-b'] },
    ],
    fallbacks: [{ model: 'm-a', fallback_models: ['m-b'], on: [503] }],
  };
  const grpcClusters = (b: any) => {
    const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const listenerExtProc = hcm.http_filters[0].typed_config.grpc_service.envoy_grpc.cluster_name;
    const rls = hcm.http_filters[1].typed_config.rate_limit_service.grpc_service.envoy_grpc.cluster_name;
    const chain = b.static_resources.clusters.find((c: any) => c.cluster_type?.name === 'envoy.clusters.aggregate');
    const attempt = chain?.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].http_filters[0].typed_config.grpc_service.envoy_grpc.cluster_name;
    return { listenerExtProc, rls, attempt, ads: b.dynamic_resources?.ads_config.grpc_services[0].envoy_grpc.cluster_name };
  };

  test('one process (the default): every gRPC service on the processor cluster', () => {
    const config = parseConfig(structuredClone(withChain), dir, {});
    const planner = new FallbackPlanner(config.fallbacks, new ProviderRegistry(config.providers.map((p) => toRuntime(p, {})), mappingsFrom(config.models)));
    const b: any = buildBootstrap(config, planner);
    b.static_resources.clusters.push(...providerClusters(config, config.providers.map((p) => toRuntime(p, {})), planner));
    expect(b.static_resources.clusters.map((c: any) => c.name)).not.toContain('gateway_ext_proc');
    expect(grpcClusters(b)).toEqual({ listenerExtProc: 'gateway_processor', rls: 'gateway_processor', attempt: 'gateway_processor', ads: 'gateway_processor' });
  });

  test('workers: ext_proc (listener and per attempt) goes to their port; rate limits and xDS stay with the primary', () => {
    const config = parseConfig({ ...structuredClone(withChain), processor: { workers: 3, ext_proc_port: 19044, grpc_port: 19042 } }, dir, {});
    const providers = config.providers.map((p) => toRuntime(p, {}));
    const planner = new FallbackPlanner(config.fallbacks, new ProviderRegistry(providers, mappingsFrom(config.models)));
    const b: any = buildBootstrap(config, planner);
    b.static_resources.clusters.push(...providerClusters(config, providers, planner));
    const extProc = b.static_resources.clusters.find((c: any) => c.name === 'gateway_ext_proc');
    // One endpoint: the workers share it, so a request's streams ride one connection to one worker.
    expect(extProc.load_assignment.endpoints).toHaveLength(1);
    expect(extProc.load_assignment.endpoints[0].lb_endpoints).toHaveLength(1);
    expect(extProc.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(19044);
    expect(grpcClusters(b)).toEqual({ listenerExtProc: 'gateway_ext_proc', rls: 'gateway_processor', attempt: 'gateway_ext_proc', ads: 'gateway_processor' });
    // Each fallback is a retry of the chain: Envoy's default of 3 in flight would refuse the 4th.
    const chain = b.static_resources.clusters.find((c: any) => c.cluster_type?.name === 'envoy.clusters.aggregate');
    expect(chain.circuit_breakers.thresholds[0].max_retries).toBeGreaterThanOrEqual(1024);
    delete b.dynamic_resources;
    const file = writeBootstrap(path.join(dir, 'workers.yaml'), b);
    expect(EnvoySupervisor.validate(findEnvoy().bin, file)).toBeUndefined();
  });

  test('workers are bounded and need a valid port', () => {
    expect(() => parseConfig({ processor: { workers: 0 } }, dir, {})).toThrow(/workers/);
    expect(() => parseConfig({ processor: { workers: 65 } }, dir, {})).toThrow(/workers/);
    expect(() => parseConfig({ processor: { workers: 2, ext_proc_port: 70000 } }, dir, {})).toThrow(/ext_proc_port/);
    expect(() => parseConfig({ processor: { workers: 'many' } }, dir, {})).toThrow(/workers/);
    expect(parseConfig({}, dir, {}).processor).toMatchObject({ workers: 'auto', ext_proc_port: 9005 });
  });

  test('auto is one worker in any bootstrap written for an Envoy elsewhere; start with its own Envoy resolves it for the machine', () => {
    const config = parseConfig({}, dir, {});
    // envoy-config, check-config and --no-envoy: the same bootstrap whatever the machine.
    expect(workerCount(config)).toBe(1);
    expect((buildBootstrap(config) as any).static_resources.clusters.map((c: any) => c.name)).not.toContain('gateway_ext_proc');
    const managed = parseConfig({}, dir, {});
    resolveWorkers(managed, 8);
    expect(managed.processor.workers).toBe(2);
    const elsewhere = parseConfig({ envoy: { manage: false } }, dir, {});
    resolveWorkers(elsewhere, 8);
    expect(elsewhere.processor.workers).toBe(1);
    // The embedded defaults with workers: no port is taken twice (the echo demo has 9004).
    const fixed = parseConfig({ processor: { workers: 3 } }, dir, {});
    resolveWorkers(fixed, 8);
    expect(fixed.processor.workers).toBe(3);
  });

  test.each([
    // cores, Envoy threads → workers: what Envoy leaves, at most one per Envoy thread, at least one
    [1, 2, 1],
    [2, 2, 1],
    [2, 1, 1],
    [4, 2, 2],
    [16, 2, 2],
    [16, 8, 8],
    [12, 8, 4],
  ])('workers: auto on %i cores with %i Envoy threads is %i', (cpus, threads, expected) => {
    expect(autoWorkers(cpus, threads)).toBe(expected);
  });
});

describe('provider clusters', () => {
  const runtime = (base_url: string) => toRuntime({ name: 'p', type: 'openai-compatible', base_url, models: [], headers: {}, timeout_seconds: 0 });

  test('https providers get TLS with SNI and verification against the system CAs', () => {
    const c: any = providerCluster(runtime('https://api.example.com/v1'));
    const tls = c.transport_socket.typed_config;
    expect(tls.sni).toBe('api.example.com');
    expect(tls.common_tls_context.validation_context.trusted_ca.filename).toBe('/etc/ssl/certs/ca-certificates.crt');
    expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.exact).toBe('api.example.com');
    expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.hostname).toBe('api.example.com');
    expect(c.type).toBe('LOGICAL_DNS');
  });

  test('http providers stay plain and keep a non-default port in the Host header', () => {
    const c: any = providerCluster(runtime('http://127.0.0.1:8000/v1'));
    expect(c.transport_socket).toBeUndefined();
    expect(c.type).toBe('STATIC');
    expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.hostname).toBe('127.0.0.1:8000');
    expect(c.circuit_breakers).toBeDefined();
    expect(c.outlier_detection).toBeDefined();
  });
});
