import type * as grpc from '@grpc/grpc-js';
import * as grpcJs from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeRateLimitRequest, encodeRateLimitResponse, rlsRoot, RLS_PROTO } from './codec';

export { RLS_PROTO };

let definition: grpc.ServiceDefinition | undefined;

/**
 * envoy.service.ratelimit.v3.RateLimitService. The server's side (decode requests, encode
 * responses) is codec.ts, the hot path; the client side stays proto-loader's, for tests.
 */
export function rateLimitServiceDefinition(): grpc.ServiceDefinition {
  if (!definition) {
    const pkgDef = protoLoader.fromJSON(rlsRoot.toJSON(), { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
    const pkg = grpcJs.loadPackageDefinition(pkgDef) as unknown as {
      envoy: { service: { ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
    };
    const generic = pkg.envoy.service.ratelimit.v3.RateLimitService.service;
    definition = {
      ...generic,
      ShouldRateLimit: { ...generic.ShouldRateLimit, requestDeserialize: decodeRateLimitRequest, responseSerialize: encodeRateLimitResponse },
    } as grpc.ServiceDefinition;
  }
  return definition;
}
