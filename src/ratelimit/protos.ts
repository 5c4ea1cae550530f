import fs from 'node:fs';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as grpcJs from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import { PROTO_INCLUDE_DIRS } from '../extproc/protos';

export const RLS_PROTO = 'envoy/service/ratelimit/v3/rls.proto';

/**
 * envoy.service.ratelimit.v3, from the API snapshot @grpc/grpc-js-xds ships, brought up to the
 * Envoy the gateway runs: since Envoy 1.33 each RateLimitDescriptor carries its own
 * `hits_addend` (field 3, google.protobuf.UInt64Value; what route policies' `hits_addend` fill
 * in) and `is_negative_hits` (4). Without them the token counts Envoy sends would be dropped
 * as unknown fields.
 */
function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of PROTO_INCLUDE_DIRS) {
      const full = path.join(dir, target);
      if (fs.existsSync(full)) return full;
    }
    return target;
  };
  root.loadSync(RLS_PROTO, { keepCase: true });
  const descriptor = root.lookupType('envoy.extensions.common.ratelimit.v3.RateLimitDescriptor');
  if (!descriptor.fields.hits_addend) descriptor.add(new protobuf.Field('hits_addend', 3, 'google.protobuf.UInt64Value'));
  if (!descriptor.fields.is_negative_hits) descriptor.add(new protobuf.Field('is_negative_hits', 4, 'bool'));
  root.resolveAll();
  return root;
}

let definition: grpc.ServiceDefinition | undefined;

export function rateLimitServiceDefinition(): grpc.ServiceDefinition {
  if (!definition) {
    const pkgDef = protoLoader.fromJSON(loadRoot().toJSON(), { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
    const pkg = grpcJs.loadPackageDefinition(pkgDef) as unknown as {
      envoy: { service: { ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
    };
    definition = pkg.envoy.service.ratelimit.v3.RateLimitService.service;
  }
  return definition;
}
