import type * as grpc from '@grpc/grpc-js';
import type { ExchangeDeps } from '../core/exchange';
import type { ProcessingRequest, ProcessingResponse } from './messages';
import { serviceDefinition } from './protos';
import { ExtProcSession } from './session';

export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';

/** envoy.service.ext_proc.v3.ExternalProcessor: one session per HTTP request. */
export function extProcService(deps: ExchangeDeps): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const definition = serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor');
  const process = (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    let reset = false;
    let closing = false;
    const session = new ExtProcSession(deps, {
      send: (msg) => {
        if (!reset && !call.cancelled) call.write(msg);
      },
    });
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
