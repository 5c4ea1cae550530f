import type * as grpc from '@grpc/grpc-js';
import type { ExchangeDeps } from '../core/exchange';
import type { UpstreamAttempt } from '../core/upstream-attempt';
import { UPSTREAM_PROVIDER_METADATA } from '../envoy/clusters';
import type { ProcessingRequest, ProcessingResponse } from './messages';
import { serviceDefinition } from './protos';
import { ExtProcSession, UpstreamSession } from './session';

export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';

/** envoy.service.ext_proc.v3.ExternalProcessor: one session per HTTP request. */
export function extProcService(
  deps: ExchangeDeps,
  attempts: UpstreamAttempt,
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const definition = serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor');
  const process = (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    let reset = false;
    let closing = false;
    const sink = {
      send: (msg: ProcessingResponse) => {
        if (!reset && !call.cancelled) call.write(msg);
      },
    };
    // The provider clusters' ext_proc filters name their provider in the stream metadata.
    const provider = call.metadata.get(UPSTREAM_PROVIDER_METADATA)[0];
    const session = provider ? new UpstreamSession(attempts, String(provider), sink, deps.log) : new ExtProcSession(deps, sink);
    const close = (outcome: 'cancelled' | 'failed' | 'ended') => {
      if (closing) return;
      closing = true;
      deps.metrics.extprocStreams.inc({ outcome });
      return session.close(outcome === 'failed' ? 'failed' : 'cancelled');
    };
    call.on('data', (msg: ProcessingRequest) => session.receive(msg));
    // Envoy resets the stream when the HTTP request ends: CANCELLED is the normal goodbye.
    call.on('cancelled', () => {
      reset = true;
      void close('cancelled');
    });
    call.on('error', () => {
      reset = true;
      void close('failed');
    });
    // A half-close: answer what is still queued, then close our side too.
    call.on('end', () => {
      void Promise.resolve(close('ended')).then(() => {
        if (!reset) {
          try {
            call.end();
          } catch {
            // already closed
          }
        }
      });
    });
  };
  return { definition, implementation: { Process: process } };
}
