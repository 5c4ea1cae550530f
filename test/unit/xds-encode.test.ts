import * as protobuf from 'protobufjs';
import * as clusters from '../../src/envoy/config/clusters';
import { providerCluster } from '../../src/envoy/config/clusters';
import { toRuntime } from '../../src/control/provider-registry';
import { decodeAny, encodeAny, EncodeError, encodeMessage, lookupType, parseDuration, toAny } from '../../src/envoy/xds/encode';

const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const HPO = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

const runtime = (name: string, baseUrl: string) =>
  toRuntime({ name, type: 'openai-compatible', base_url: baseUrl, models: ['*'], headers: {}, timeout_seconds: 0 }, {});

/** Decodes with protobufjs directly: the message, not the encoder's own JSON view of it. */
function decode(typeName: string, bytes: Uint8Array): any {
  const type = lookupType(typeName);
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false });
}
const decodeNested = (any: { type_url: string; value: Uint8Array }) => decode(any.type_url.split('/').pop()!, any.value);

describe('xDS encoder: provider clusters', () => {
  const cases: {
    title: string;
    url: string;
    type: string;
    port: number;
    tls: boolean;
  }[] = [
    { title: 'https provider (LOGICAL_DNS, TLS with SNI)', url: 'https://api.example.com/v1', type: 'LOGICAL_DNS', port: 443, tls: true },
    { title: 'http provider on an IP (STATIC, plain HTTP/1.1)', url: 'http://10.1.2.3:8000/v1', type: 'STATIC', port: 8000, tls: false },
    { title: 'https provider on a custom port', url: 'https://llm.internal.example:8443/v1', type: 'LOGICAL_DNS', port: 8443, tls: true },
  ];

  test.each(cases)('$title', ({ url, type, port, tls }) => {
    const rt = runtime('p1', url);
    const json = providerCluster(rt);
    const any = toAny(CLUSTER, json);
    expect(any.type_url).toBe(CLUSTER);
    expect(Buffer.isBuffer(any.value)).toBe(true);

    const c = decode('envoy.config.cluster.v3.Cluster', any.value);
    expect(c.name).toBe('provider_p1');
    expect(c.type).toBe(type);
    expect(c.connect_timeout).toEqual({ seconds: 10 });
    expect(c.dns_lookup_family).toBe('V4_PREFERRED');
    expect(c.per_connection_buffer_limit_bytes).toEqual({ value: 32 * 1024 * 1024 });
    const lb = c.load_assignment.endpoints[0].lb_endpoints[0].endpoint;
    expect(lb.address.socket_address).toEqual({ address: new URL(url).hostname, port_value: port });
    expect(c.circuit_breakers.thresholds[0]).toMatchObject({ priority: 'DEFAULT', max_connections: { value: 4096 }, max_retries: { value: 64 } });
    expect(c.outlier_detection).toMatchObject({ consecutive_5xx: { value: 5 }, interval: { seconds: 10 }, base_ejection_time: { seconds: 30 } });

    const hpoAny = c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    expect(hpoAny.type_url).toBe(HPO);
    const hpo = decodeNested(hpoAny);
    expect(hpo.common_http_protocol_options.idle_timeout).toEqual({ seconds: 300 });
    if (tls) {
      expect(hpo.auto_config).toEqual({ http_protocol_options: {}, http2_protocol_options: {} });
      expect(hpo.explicit_http_config).toBeUndefined();
      expect(c.transport_socket.name).toBe('envoy.transport_sockets.tls');
      expect(c.transport_socket.typed_config.type_url).toBe(TLS);
      const ctx = decodeNested(c.transport_socket.typed_config);
      expect(ctx.sni).toBe(new URL(url).hostname);
      expect(ctx.common_tls_context.alpn_protocols).toEqual(['h2', 'http/1.1']);
      expect(ctx.common_tls_context.validation_context.trusted_ca.filename).toBe('/etc/ssl/certs/ca-certificates.crt');
      expect(ctx.common_tls_context.validation_context.match_typed_subject_alt_names[0]).toEqual({
        san_type: 'DNS',
        matcher: { exact: new URL(url).hostname },
      });
    } else {
      expect(hpo.explicit_http_config).toEqual({ http_protocol_options: {} });
      expect(c.transport_socket).toBeUndefined();
    }

    // The JSON view with nested Anys expanded agrees.
    const view = decodeAny(any) as any;
    expect(view['@type']).toBe(CLUSTER);
    expect(view.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']['@type']).toBe(HPO);
  });

  test('an aggregate cluster: cluster_type with a nested ClusterConfig', () => {
    const any = toAny(CLUSTER, {
      name: 'agg',
      connect_timeout: '0.25s',
      lb_policy: 'CLUSTER_PROVIDED',
      cluster_type: {
        name: 'envoy.clusters.aggregate',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig', clusters: ['a', 'b'] },
      },
    });
    const c = decode('envoy.config.cluster.v3.Cluster', any.value);
    expect(c).toMatchObject({ name: 'agg', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { nanos: 250000000 } });
    expect(c.type).toBeUndefined();
    expect(c.cluster_type.name).toBe('envoy.clusters.aggregate');
    expect(c.cluster_type.typed_config.type_url).toBe('type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig');
    expect(decodeNested(c.cluster_type.typed_config)).toEqual({ clusters: ['a', 'b'] });
  });

  test("the gateway's own cluster builders encode as they are (per-attempt ext_proc, fallback chains)", () => {
    // Whatever the builders currently emit must fit the bundled protos: they are sent over CDS.
    const proc = { cluster: 'gateway_processor', messageTimeoutMs: 2000 };
    const anyBuilders = clusters as unknown as Record<string, (...args: unknown[]) => Record<string, unknown>>;
    const built: Record<string, unknown>[] = [
      anyBuilders.providerCluster(runtime('a', 'https://api.example.com/v1'), proc),
      anyBuilders.providerCluster(runtime('b', 'http://127.0.0.1:9000/v1'), proc),
    ];
    if (typeof anyBuilders.chainCluster === 'function') built.push(anyBuilders.chainCluster('chain_a_b', ['provider_a', 'provider_b'], proc));
    for (const json of built) {
      const c = decode('envoy.config.cluster.v3.Cluster', toAny(CLUSTER, json).value);
      expect(c.name).toBe(json.name);
    }
  });

  test('upstream http_filters: ext_proc then upstream_codec, nested Anys and enums', () => {
    const json = {
      ...providerCluster(runtime('up', 'https://api.example.com/v1')),
    } as Record<string, any>;
    const hpoKey = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
    json.typed_extension_protocol_options[hpoKey].http_filters = [
      {
        name: 'envoy.filters.http.ext_proc',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
          grpc_service: { envoy_grpc: { cluster_name: 'gateway_processor' }, timeout: '30s' },
          message_timeout: '2s',
          processing_mode: { request_header_mode: 'SEND', request_body_mode: 'BUFFERED', response_trailer_mode: 'SKIP' },
          request_attributes: ['xds.cluster_metadata'],
        },
      },
      { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } },
    ];
    const c = decode('envoy.config.cluster.v3.Cluster', toAny(CLUSTER, json).value);
    const hpo = decodeNested(c.typed_extension_protocol_options[hpoKey]);
    expect(hpo.http_filters.map((f: any) => f.name)).toEqual(['envoy.filters.http.ext_proc', 'envoy.filters.http.upstream_codec']);
    const ep = decodeNested(hpo.http_filters[0].typed_config);
    expect(ep).toMatchObject({
      grpc_service: { envoy_grpc: { cluster_name: 'gateway_processor' }, timeout: { seconds: 30 } },
      message_timeout: { seconds: 2 },
      processing_mode: { request_header_mode: 'SEND', request_body_mode: 'BUFFERED', response_trailer_mode: 'SKIP' },
      request_attributes: ['xds.cluster_metadata'],
    });
    expect(hpo.http_filters[1].typed_config.type_url).toBe('type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec');
  });
});

describe('xDS encoder: proto3 JSON mapping', () => {
  test.each([
    ['10s', { seconds: 10 }],
    ['0.5s', { nanos: 500000000 }],
    ['1.000000001s', { seconds: 1, nanos: 1 }],
    ['-1.5s', { seconds: -1, nanos: -500000000 }],
    ['0s', {}],
  ])('duration %s', (text, want) => {
    expect(parseDuration(text)).toEqual(want);
  });

  test.each(['10', '1m', '1.5', 's', '0.1234567891s'])('invalid duration %s is an error', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });

  test('wrappers accept bare values and {value}; camelCase names; metadata Struct; timestamps', () => {
    const bytes = encodeMessage('envoy.config.cluster.v3.Cluster', {
      name: 'w',
      perConnectionBufferLimitBytes: 1024,
      common_lb_config: { healthy_panic_threshold: { value: 50 } },
      metadata: { filter_metadata: { gw: { provider: 'x', weight: 2, tags: ['a', null], nested: { ok: true } } } },
      upstream_connection_options: { tcp_keepalive: { keepalive_probes: 3 } },
    });
    const c = decode('envoy.config.cluster.v3.Cluster', bytes);
    expect(c.per_connection_buffer_limit_bytes).toEqual({ value: 1024 });
    expect(c.common_lb_config.healthy_panic_threshold).toEqual({ value: 50 });
    expect(c.upstream_connection_options.tcp_keepalive.keepalive_probes).toEqual({ value: 3 });
    // google.protobuf.Struct (protobufjs names the bundled well-known types' fields in camelCase)
    expect(c.metadata.filter_metadata.gw.fields).toEqual({
      provider: { stringValue: 'x' },
      weight: { numberValue: 2 },
      tags: { listValue: { values: [{ stringValue: 'a' }, { nullValue: 'NULL_VALUE' }] } },
      nested: { structValue: { fields: { ok: { boolValue: true } } } },
    });

    const ts = lookupType('google.protobuf.Timestamp');
    const any = encodeAny({ '@type': 'type.googleapis.com/google.protobuf.Timestamp', value: '2024-05-01T10:00:00.5Z' });
    expect(ts.toObject(ts.decode(any.value), { longs: Number })).toEqual({ seconds: Date.UTC(2024, 4, 1, 10) / 1000, nanos: 500000000 });
    const d = encodeAny({ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' });
    expect(decodeNested(d)).toEqual({ seconds: 3 });
  });

  test('types outside the preloaded files are found in the bundled protos', () => {
    const any = encodeAny({ '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true });
    expect(decodeNested(any)).toEqual({ suppress_envoy_headers: true });
    expect(lookupType('envoy.config.route.v3.RouteConfiguration')).toBeInstanceOf(protobuf.Type);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['unknown field', { name: 'x', conect_timeout: '1s' }, /unknown field "conect_timeout"/],
    ['unknown enum name', { name: 'x', lb_policy: 'FASTEST' }, /unknown envoy.config.cluster.v3.Cluster.LbPolicy value "FASTEST"/],
    ['bad duration', { name: 'x', connect_timeout: '10' }, /x.connect_timeout: invalid duration/],
    ['wrong scalar kind', { name: 'x', per_connection_buffer_limit_bytes: 'lots' }, /expected an integer/],
    ['negative unsigned', { name: 'x', per_connection_buffer_limit_bytes: -1 }, /must not be negative/],
    ['two oneof members', { name: 'x', type: 'STATIC', cluster_type: { name: 'c' } }, /only one of type, cluster_type/],
    ['unknown @type', { name: 'x', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/envoy.Nope' } } }, /unknown message type envoy.Nope/],
    [
      'bad nested field',
      { name: 'x', transport_socket: { name: 't', typed_config: { '@type': TLS, snii: 'a' } } },
      /x.transport_socket.typed_config<UpstreamTlsContext>.snii: unknown field/,
    ],
  ])('%s is an error, not silently dropped', (_title, json, message) => {
    expect(() => toAny(CLUSTER, json)).toThrow(EncodeError);
    expect(() => toAny(CLUSTER, json)).toThrow(message);
  });
});
