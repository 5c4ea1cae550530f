import path from 'node:path';
import type { GatewayConfig } from '../../config/types';
import { socketAddress } from './clusters';

/**
 * The mTLS listener: terminates TLS and requires a client certificate signed by `mtls.client_ca`.
 * Envoy refuses the handshake for a missing certificate, one from another CA, or an expired one
 * (expiry is checked by default), so only verified clients reach the HTTP layer. It runs the
 * same HttpConnectionManager as the plain listener, built by bootstrap.ts with these overrides.
 */

/**
 * Replaces any client-sent x-forwarded-client-cert with the details of the certificate Envoy
 * verified (URI and DNS SANs, subject): the processor (mtls-identity plugin) trusts only that.
 * The plain listener uses SANITIZE (strip) instead.
 */
export const MTLS_HCM_OVERRIDES = {
  stat_prefix: 'gateway_mtls',
  forward_client_cert_details: 'SANITIZE_SET',
  set_current_client_cert_details: { subject: true, uri: true, dns: true },
} as const;

function file(config: GatewayConfig, p: string | undefined): { filename: string } {
  // checkSemantics guarantees the three files when mtls is enabled.
  if (!p) throw new Error('mtls: server_cert, server_key and client_ca are required');
  return { filename: path.resolve(config.base_dir, p) };
}

export function mtlsListener(config: GatewayConfig, httpConnectionManager: object): object {
  const m = config.mtls;
  return {
    name: 'mtls',
    address: socketAddress(m.listen_address, m.port),
    // As the plain listener: a second gateway on the port must fail, and ext_proc buffers bodies.
    enable_reuse_port: false,
    per_connection_buffer_limit_bytes: config.server.max_request_body_bytes,
    filter_chains: [
      {
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
            require_client_certificate: true,
            common_tls_context: {
              tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
              tls_certificates: [{ certificate_chain: file(config, m.server_cert), private_key: file(config, m.server_key) }],
              validation_context: { trusted_ca: file(config, m.client_ca) },
              alpn_protocols: ['h2', 'http/1.1'],
            },
          },
        },
        filters: [httpConnectionManager],
      },
    ],
  };
}
