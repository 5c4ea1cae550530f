import net from 'node:net';
import type { ProviderRuntime } from '../../providers/types';
import { METADATA_NAMESPACE, UPSTREAM_PROVIDER_METADATA } from '../metadata';

/** The CA bundle Debian and most distributions ship; upstream TLS is verified against it. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const HTTP_PROTOCOL_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function socketAddress(address: string, port: number): object {
  return { socket_address: { address, port_value: port } };
}

function endpointFor(host: string, port: number, hostname?: string, provider?: string): object {
  return {
    lb_endpoints: [
      {
        endpoint: { address: socketAddress(host, port), ...(hostname ? { hostname } : {}) },
        ...(provider ? { metadata: { filter_metadata: { [METADATA_NAMESPACE]: { provider } } } } : {}),
      },
    ],
  };
}

/** A cluster for one of the processor's own servers on loopback or a sidecar address. */
export function localCluster(name: string, address: string, port: number, http2: boolean): Record<string, unknown> {
  return {
    name,
    type: net.isIP(address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    per_connection_buffer_limit_bytes: 64 * 1024 * 1024,
    load_assignment: { cluster_name: name, endpoints: [endpointFor(address, port)] },
    ...(http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': HTTP_PROTOCOL_OPTIONS,
              explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
            },
          },
        }
      : {}),
  };
}

/** How provider clusters reach the processor for per-attempt translation. */
export interface UpstreamProcessor {
  cluster: string;
  messageTimeoutMs: number;
}

/**
 * The cluster-level ext_proc filter: runs once per attempt (retries and fallbacks included),
 * before the request is encoded, and tells the processor which provider this attempt goes to.
 * It only rewrites the request; responses are handled by the downstream ext_proc filter.
 */
function upstreamFilters(provider: string | undefined, proc: UpstreamProcessor): object[] {
  return [
    {
      name: 'envoy.filters.http.ext_proc',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
        grpc_service: {
          envoy_grpc: { cluster_name: proc.cluster },
          timeout: '30s',
          // '*': the provider is the chosen host's (an aggregate cluster spans several).
          initial_metadata: [{ key: UPSTREAM_PROVIDER_METADATA, value: provider ?? '*' }],
        },
        request_attributes: provider ? [] : ['xds.upstream_host_metadata'],
        // The listener's ext_proc stream publishes the exchange id there; the attempt's stream
        // is joined to it by that, never by a header a client could send.
        metadata_options: { forwarding_namespaces: { untyped: [METADATA_NAMESPACE] } },
        failure_mode_allow: false,
        message_timeout: `${proc.messageTimeoutMs / 1000}s`,
        processing_mode: {
          request_header_mode: 'SEND',
          request_body_mode: 'NONE',
          request_trailer_mode: 'SKIP',
          response_header_mode: 'SKIP',
          response_body_mode: 'NONE',
          response_trailer_mode: 'SKIP',
        },
        mutation_rules: { allow_all_routing: true, allow_envoy: true },
      },
    },
    {
      name: 'envoy.filters.http.upstream_codec',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' },
    },
  ];
}

/** An aggregate cluster: tries its clusters in order (Envoy moves to the next on retries). */
export function chainCluster(name: string, clusters: string[], proc: UpstreamProcessor): Record<string, unknown> {
  return {
    name,
    connect_timeout: '10s',
    lb_policy: 'CLUSTER_PROVIDED',
    // Upstream filters come from the route's cluster, here the aggregate: they find the attempt's
    // provider in the chosen host's metadata.
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_PROTOCOL_OPTIONS,
        use_downstream_protocol_config: {},
        http_filters: upstreamFilters(undefined, proc),
      },
    },
    // Every fallback is a retry of this cluster to Envoy: with its default limit of 3 retries in
    // flight, the fourth concurrent request whose first provider fails got that failure instead
    // of its fallback. As many as requests may be in flight.
    circuit_breakers: {
      thresholds: [{ priority: 'DEFAULT', max_connections: 4096, max_pending_requests: 4096, max_requests: 4096, max_retries: 4096 }],
    },
    cluster_type: {
      name: 'envoy.clusters.aggregate',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig', clusters },
    },
  };
}

/**
 * A provider's cluster: TLS with SNI and certificate verification against the system CA store
 * unless the base URL says http, generous timeouts for long streams, circuit breakers and
 * outlier detection so a failing provider is ejected rather than hammered.
 */
export function providerCluster(p: ProviderRuntime, proc?: UpstreamProcessor, caBundle = SYSTEM_CA_BUNDLE): Record<string, unknown> {
  const url = p.baseUrl;
  const tls = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (tls ? 443 : 80));
  const defaultPort = (tls && port === 443) || (!tls && port === 80);
  const cluster: Record<string, unknown> = {
    name: p.cluster,
    type: net.isIP(host) ? 'STATIC' : 'LOGICAL_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: '10s',
    per_connection_buffer_limit_bytes: 32 * 1024 * 1024,
    // The Host header sent upstream: auto_host_rewrite on the route copies it from here.
    load_assignment: { cluster_name: p.cluster, endpoints: [endpointFor(host, port, defaultPort ? host : `${host}:${port}`, p.name)] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_PROTOCOL_OPTIONS,
        common_http_protocol_options: { idle_timeout: '300s' },
        ...(tls
          ? { auto_config: { http_protocol_options: {}, http2_protocol_options: {} } }
          : { explicit_http_config: { http_protocol_options: {} } }),
        ...(proc ? { http_filters: upstreamFilters(p.name, proc) } : {}),
      },
    },
    metadata: { filter_metadata: { 'llm-gateway': { provider: p.name, type: p.type } } },
    circuit_breakers: {
      thresholds: [{ priority: 'DEFAULT', max_connections: 4096, max_pending_requests: 4096, max_requests: 4096, max_retries: 64 }],
    },
    outlier_detection: {
      consecutive_5xx: 5,
      consecutive_gateway_failure: 5,
      interval: '10s',
      base_ejection_time: '30s',
      max_ejection_percent: 100,
    },
  };
  if (tls) {
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: host,
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          validation_context: {
            trusted_ca: { filename: caBundle },
            ...(net.isIP(host) ? {} : { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: host } }] }),
          },
        },
      },
    };
  }
  return cluster;
}
