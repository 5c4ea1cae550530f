import net from 'node:net';
import type { ProviderRuntime } from '../providers/types';

/** The CA bundle Debian and most distributions ship; upstream TLS is verified against it. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const HTTP_PROTOCOL_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function socketAddress(address: string, port: number): object {
  return { socket_address: { address, port_value: port } };
}

function endpointFor(host: string, port: number, hostname?: string): object {
  return {
    lb_endpoints: [{ endpoint: { address: socketAddress(host, port), ...(hostname ? { hostname } : {}) } }],
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

/**
 * A provider's cluster: TLS with SNI and certificate verification against the system CA store
 * unless the base URL says http, generous timeouts for long streams, circuit breakers and
 * outlier detection so a failing provider is ejected rather than hammered.
 */
export function providerCluster(p: ProviderRuntime, caBundle = SYSTEM_CA_BUNDLE): Record<string, unknown> {
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
    load_assignment: { cluster_name: p.cluster, endpoints: [endpointFor(host, port, defaultPort ? host : `${host}:${port}`)] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_PROTOCOL_OPTIONS,
        common_http_protocol_options: { idle_timeout: '300s' },
        ...(tls
          ? { auto_config: { http_protocol_options: {}, http2_protocol_options: {} } }
          : { explicit_http_config: { http_protocol_options: {} } }),
      },
    },
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
