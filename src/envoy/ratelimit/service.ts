import type * as grpc from '@grpc/grpc-js';
import type { RateLimiter, RateLimitRequest, RateLimitResponse } from '../../ratelimit/limiter';
import { Status, type UnaryCall, type UnaryCallback } from '../grpc/server';
import { rateLimitServiceDefinition } from './protos';

/** The gRPC service for the processor's server. */
export function rateLimitService(limiter: RateLimiter): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const definition = rateLimitServiceDefinition();
  const ShouldRateLimit = (call: UnaryCall<RateLimitRequest>, callback: UnaryCallback<RateLimitResponse>) => {
    limiter.shouldRateLimit(call.request).then(
      (res) => callback(null, res),
      (err: Error) => callback({ code: Status.UNAVAILABLE, details: `rate limit counters unavailable: ${err.message}` }),
    );
  };
  return { definition, implementation: { ShouldRateLimit } };
}
