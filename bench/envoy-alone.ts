/**
 * The "Envoy alone" baseline: a minimal bootstrap with one loopback listener,
 * http_connection_manager → router → a STATIC cluster to the fake upstream. No ext_proc, so
 * the difference to the full gateway is the processor round trips and plugin work.
 */
import { localCluster, socketAddress } from '../src/envoy/config/clusters';
import { LOOPBACK } from './procs';

export const UPSTREAM_CLUSTER = 'fake_upstream';

export function envoyAloneBootstrap(opts: { listenPort: number; adminPort: number; upstreamPort: number }): Record<string, unknown> {
  return {
    node: { id: 'bench-envoy-alone', cluster: 'bench' },
    admin: { address: socketAddress(LOOPBACK, opts.adminPort) },
    static_resources: {
      listeners: [
        {
          name: 'http',
          address: socketAddress(LOOPBACK, opts.listenPort),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'bench',
                    codec_type: 'AUTO',
                    generate_request_id: true,
                    route_config: {
                      name: 'bench',
                      virtual_hosts: [
                        {
                          name: 'bench',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: UPSTREAM_CLUSTER, timeout: '30s' } }],
                        },
                      ],
                    },
                    http_filters: [
                      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [localCluster(UPSTREAM_CLUSTER, LOOPBACK, opts.upstreamPort, false)],
    },
  };
}
