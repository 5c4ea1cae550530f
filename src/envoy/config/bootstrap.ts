import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { workerCount } from '../../config/workers';
import type { GatewayConfig } from '../../config/types';
import type { ProviderRuntime } from '../../providers/types';
import { mappingsFrom, ProviderRegistry } from '../../control/provider-registry';
import { FallbackPlanner } from '../../routing/fallbacks';
import { defaultRetryPolicy, fallbackRoutes } from './retry-policy';
import { chainCluster, localCluster, providerCluster, socketAddress } from './clusters';
import { ADMIN_KEEP_ALIVE_MS, MAX_ADMIN_BODY_BYTES } from '../../admin/server';
import { localReplyConfig } from './local-reply';
import { MTLS_HCM_OVERRIDES, mtlsListener } from './mtls';
import { adminRouteRateLimitOverrides, extProcMetadataOptions, globalRateLimitFilters, localRateLimitFilters, rateLimitPerRoute } from './rate-limits';

export const PROCESSOR_CLUSTER = 'gateway_processor';
/** With processor workers, ext_proc streams go to their own port (src/workers). */
export const EXT_PROC_CLUSTER = 'gateway_ext_proc';

/** The cluster Envoy's ext_proc filters use: the workers' when there are several. */
export function extProcCluster(config: GatewayConfig): string {
  return workerCount(config) > 1 ? EXT_PROC_CLUSTER : PROCESSOR_CLUSTER;
}
export const ADMIN_CLUSTER = 'gateway_admin';
/** The processor's MCP front (src/mcp), when mcp.enabled. */
export const MCP_CLUSTER = 'gateway_mcp';
/** Request header the processor sets to pick the provider cluster. */
export const ROUTING_HEADER = 'x-gateway-cluster';

/** Paths served by the processor's admin HTTP server rather than by the LLM pipeline. */
export const ADMIN_ROUTES: ({ path: string } | { prefix: string })[] = [
  { path: '/health' },
  { path: '/metrics' },
  { path: '/v1/usage' },
  { path: '/v1/metrics/summary' },
  { path: '/v1/keys' },
  { prefix: '/v1/keys/' },
  { path: '/v1/providers' },
  { prefix: '/v1/providers/' },
  { path: '/v1/security/config' },
  { path: '/v1/audit' },
  { path: '/v1/mcp/servers' },
  { prefix: '/v1/mcp/servers/' },
  { path: '/v1/mcp/access' },
  { prefix: '/v1/mcp/access/' },
  // The earlier .NET gateway's admin paths (`GET /api/v1/admin/usage`); its LLM paths
  // (`/api/v1/completion`, ...) are LLM traffic, served by the processor (src/surfaces/dotnet).
  { prefix: '/api/v1/admin/' },
  // The API's description: the OpenAPI document and Swagger UI with its files (src/admin/openapi).
  { path: '/openapi.json' },
  { path: '/docs' },
  { prefix: '/docs/' },
  // The admin console: its page, files and sign-in session (src/admin/console).
  { path: '/console' },
  { prefix: '/console/' },
];

const seconds = (s: number) => `${s}s`;

const BUFFER_FILTER = 'envoy.filters.http.buffer';
const ADMIN_BUFFER = { max_request_bytes: MAX_ADMIN_BODY_BYTES };

/**
 * Admin routes only: Envoy takes the whole body (up to the admin limit, else 413) before the
 * admin server sees the request, so a large or slow body never ties up a pooled connection to it.
 */
function bufferFilter(): object {
  return { name: BUFFER_FILTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer', ...ADMIN_BUFFER }, disabled: true };
}

const adminBodyLimit = {
  [BUFFER_FILTER]: {
    '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
    config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute', buffer: ADMIN_BUFFER },
  },
};

/**
 * The admin server's cluster: idle connections are dropped well before Node closes them
 * (ADMIN_KEEP_ALIVE_MS), so no request is ever sent on a connection that is being closed.
 */
function adminCluster(config: GatewayConfig, name = ADMIN_CLUSTER, port = config.processor.admin_port): Record<string, unknown> {
  return {
    ...localCluster(name, config.processor.advertise_address, port, false),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: { idle_timeout: seconds(ADMIN_KEEP_ALIVE_MS / 2000) },
        explicit_http_config: { http_protocol_options: {} },
      },
    },
  };
}

function extProcFilter(config: GatewayConfig): object {
  return {
    name: 'envoy.filters.http.ext_proc',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      grpc_service: {
        envoy_grpc: { cluster_name: extProcCluster(config), max_receive_message_length: 64 * 1024 * 1024 },
        timeout: '30s',
      },
      failure_mode_allow: false,
      // The processor down or failing is an outage of the gateway, not a bad request.
      status_on_error: { code: 503 },
      message_timeout: `${config.processor.message_timeout_ms / 1000}s`,
      max_message_timeout: '60s',
      allow_mode_override: true,
      // Lets the processor set x-envoy-upstream-rq-timeout-ms for providers with their own
      // timeout, and the provider's :authority when it prepares a single-target attempt itself.
      mutation_rules: { allow_envoy: true, allow_all_routing: true },
      // Caller dimensions and token usage for the rate limit filter (src/envoy/config/rate-limits.ts).
      metadata_options: extProcMetadataOptions(),
      // The response is processed only for requests the processor has seen: its reply to the
      // request headers switches it on (mode_override, src/envoy/extproc/session.ts). Local replies to
      // requests it never saw, such as HTTP codec errors (malformed requests, 431), then go out
      // at once; waiting for the processor there loses them as the connection closes
      // (envoyproxy/envoy#29440).
      processing_mode: {
        request_header_mode: 'SEND',
        response_header_mode: 'SKIP',
        request_body_mode: 'BUFFERED',
        response_body_mode: 'NONE',
        request_trailer_mode: 'SKIP',
        response_trailer_mode: 'SKIP',
      },
    },
  };
}

function routeConfig(config: GatewayConfig, planner?: FallbackPlanner): object {
  const disabledExtProc = {
    'envoy.filters.http.ext_proc': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
      disabled: true,
    },
  };
  const adminRoutes = ADMIN_ROUTES.map((match) => ({
    // A request the processor routed (its path now the provider's) is never an admin request.
    match: { ...match, headers: [{ name: ROUTING_HEADER, present_match: true, invert_match: true }] },
    route: { cluster: ADMIN_CLUSTER, timeout: '10s' },
    typed_per_filter_config: { ...disabledExtProc, ...adminBodyLimit, ...adminRouteRateLimitOverrides(config) },
  }));
  // MCP (src/mcp): the processor's front decides; Envoy streams both ways unbuffered (no
  // ext_proc, no buffer filter), with no route timeout and a long idle timeout for SSE streams.
  const mcpRoutes = config.mcp.enabled
    ? [
        {
          match: { path: '/mcp', headers: [{ name: ROUTING_HEADER, present_match: true, invert_match: true }] },
          route: { cluster: MCP_CLUSTER, timeout: '0s', idle_timeout: seconds(config.mcp.stream_idle_timeout_seconds) },
          typed_per_filter_config: disabledExtProc,
        },
      ]
    : [];
  const llmRoute = (retryPolicy: object, headerPrefix?: string) => ({
    match: { prefix: '/', ...(headerPrefix ? { headers: [{ name: ROUTING_HEADER, string_match: { prefix: headerPrefix } }] } : {}) },
    route: {
      cluster_header: ROUTING_HEADER,
      timeout: seconds(config.server.request_timeout_seconds),
      idle_timeout: seconds(config.server.stream_idle_timeout_seconds),
      retry_policy: retryPolicy,
    },
    // Internal routing state stays inside the gateway.
    request_headers_to_remove: [ROUTING_HEADER],
    typed_per_filter_config: rateLimitPerRoute(config),
  });
  return {
    name: 'gateway',
    virtual_hosts: [
      {
        name: 'gateway',
        domains: ['*'],
        // x-envoy-attempt-count on responses: the processor reports retries Envoy made on its own.
        include_attempt_count_in_response: true,
        routes: [
          ...adminRoutes,
          ...mcpRoutes,
          // Requests with fallbacks: an aggregate cluster per rule, retried onto the next provider.
          ...(planner ? fallbackRoutes(planner, config.routing) : []).map((r) => llmRoute(r.retryPolicy, r.headerPrefix)),
          // Everything else is LLM traffic: the processor answers or picks the provider cluster.
          llmRoute(defaultRetryPolicy(config.routing)),
        ],
      },
    ],
  };
}

function httpListener(config: GatewayConfig, planner?: FallbackPlanner): object {
  return {
    name: 'http',
    address: socketAddress(config.server.listen_address, config.server.http_port),
    // A second gateway on the same port must fail to start, not silently share the traffic.
    enable_reuse_port: false,
    // Without reuse_port the kernel hands most connections to whichever worker wakes first,
    // leaving the others idle under load: spread them evenly instead.
    connection_balance_config: { exact_balance: {} },
    // ext_proc buffers the whole request body; anything larger than this gets a 413.
    per_connection_buffer_limit_bytes: config.server.max_request_body_bytes,
    filter_chains: [{ filters: [httpConnectionManager(config, planner)] }],
  };
}

/**
 * The HTTP connection manager every listener runs (same routes and filters). `overrides` holds
 * what differs per listener; by default a client-sent x-forwarded-client-cert is stripped,
 * because the processor takes that header as the identity Envoy verified (see mtls.ts).
 */
export function httpConnectionManager(config: GatewayConfig, planner?: FallbackPlanner, overrides: Record<string, unknown> = { forward_client_cert_details: 'SANITIZE' }): object {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'gateway',
      codec_type: 'AUTO',
      generate_request_id: true,
      // Clients and support staff correlate by it, as with OpenAI's own x-request-id.
      always_set_request_id_in_response: true,
      request_timeout: '0s',
      stream_idle_timeout: seconds(config.server.stream_idle_timeout_seconds),
      common_http_protocol_options: { idle_timeout: '300s' },
      local_reply_config: localReplyConfig(),
      route_config: routeConfig(config, planner),
      http_filters: [
        ...localRateLimitFilters(config),
        extProcFilter(config),
        ...globalRateLimitFilters(config, PROCESSOR_CLUSTER),
        bufferFilter(),
        { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
      ],
      ...overrides,
    },
  };
}

/**
 * The clusters that follow the providers: one per provider, and one aggregate per fallback
 * chain with the per-attempt ext_proc filter (a single-target request is prepared by the
 * listener's filter, so a provider's own cluster needs none). Served over CDS, so they change
 * without restart.
 */
export function providerClusters(config: GatewayConfig, providers: ProviderRuntime[], planner?: FallbackPlanner): Record<string, unknown>[] {
  const proc = { cluster: extProcCluster(config), messageTimeoutMs: config.processor.message_timeout_ms };
  return [...providers.map((provider) => providerCluster(provider)), ...(planner?.chains() ?? []).map((c) => chainCluster(c.name, c.clusters, proc))];
}

/**
 * The limit on client connections, all listeners together (envoy.max_downstream_connections;
 * beyond it Envoy closes new connections at once). This overload manager monitor replaces the
 * deprecated runtime key `overload.global_downstream_max_connections`, which Envoy warns about
 * at every start (and without either, it warns that connections are unlimited).
 */
function overloadManager(config: GatewayConfig): object {
  return {
    resource_monitors: [
      {
        name: 'envoy.resource_monitors.global_downstream_max_connections',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
          max_active_downstream_connections: config.envoy.max_downstream_connections,
        },
      },
    ],
  };
}

/**
 * Builds the Envoy bootstrap from the gateway configuration. Only the processor's own clusters
 * are static: provider clusters and fallback chains come from the processor over ADS (CDS),
 * so providers can be added and removed without restarting Envoy.
 */
export function buildBootstrap(config: GatewayConfig, planner?: FallbackPlanner): Record<string, unknown> {
  const p = config.processor;
  return {
    node: { id: 'llm-gateway', cluster: 'llm-gateway' },
    admin: { address: socketAddress(config.envoy.admin_address, config.envoy.admin_port) },
    static_resources: {
      listeners: [
        ...(config.server.http_enabled ? [httpListener(config, planner)] : []),
        ...(config.mtls.enabled ? [mtlsListener(config, httpConnectionManager(config, planner, MTLS_HCM_OVERRIDES))] : []),
      ],
      clusters: [
        localCluster(PROCESSOR_CLUSTER, p.advertise_address, p.grpc_port, true),
        // One endpoint: the workers share the port, and every stream of one Envoy worker thread
        // rides one connection, so a request's per-attempt stream reaches the process that holds
        // its exchange.
        ...(workerCount(config) > 1 ? [localCluster(EXT_PROC_CLUSTER, p.advertise_address, p.ext_proc_port, true)] : []),
        adminCluster(config),
        ...(config.mcp.enabled ? [adminCluster(config, MCP_CLUSTER, config.mcp.port)] : []),
      ],
    },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: PROCESSOR_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      cds_config: { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '10s' },
    },
    overload_manager: overloadManager(config),
    layered_runtime: {
      layers: [
        {
          name: 'static',
          static_layer: {
            // Close each ext_proc stream gracefully instead of resetting it: Node's HTTP/2 server
            // treats ~1000 resets on one connection as an attack and sends GOAWAY, which
            // Envoy reports as 503s (measured by npm run bench).
            'envoy.reloadable_features.ext_proc_graceful_grpc_close': true,
          },
        },
      ],
    },
  };
}

/** The bootstrap for a configuration and its providers (what `envoy-config` and `start` write). */
export function gatewayBootstrap(config: GatewayConfig, providers: ProviderRuntime[]): Record<string, unknown> {
  return buildBootstrap(config, new FallbackPlanner(config.fallbacks, new ProviderRegistry(providers, mappingsFrom(config.models))));
}

const HEADER = '# Generated by llm-gateway from the gateway configuration. Edit gateway.yaml, not this file.\n';

export function renderBootstrap(bootstrap: Record<string, unknown>): string {
  return HEADER + YAML.stringify(bootstrap, { lineWidth: 0 });
}

export function writeBootstrap(file: string, bootstrap: Record<string, unknown>): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, renderBootstrap(bootstrap));
  fs.renameSync(tmp, file);
  return file;
}
