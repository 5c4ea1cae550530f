import type * as grpc from '@grpc/grpc-js';
import type { DuplexCall } from '../grpc/server';
import type { ExchangeDeps } from '../../core/exchange';
import type { UpstreamAttempt } from '../../core/upstream-attempt';
import { UPSTREAM_PROVIDER_METADATA } from '../metadata';
import { EXT_PROC_PROTO, withExtProcCodec } from './codec';
import type { ProcessingRequest, ProcessingResponse } from './messages';
import { serviceDefinition } from './protos';
import { ExtProcSession, UpstreamSession, type StreamEnd } from './session';

export { EXT_PROC_PROTO };

export interface ExtProcService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Requests (listener streams) in flight. */
  readonly active: number;
  /**
   * Shutdown is cutting what is in flight: every open request ends as interrupted, now, and so
   * does any stream that ends from here on. Resolves when their records are handed over.
   */
  interrupt(): Promise<void>;
  /**
   * No request on `connection` still waits for per-attempt streams, so none would be lost if
   * the connection went away and later streams reached another process.
   */
  movable(connection: object): boolean;
}

/** envoy.service.ext_proc.v3.ExternalProcessor: one session per HTTP request. */
export function extProcService(deps: ExchangeDeps, attempts: UpstreamAttempt): ExtProcService {
  // Messages are decoded and encoded by codec.ts, not proto-loader (the hot path).
  const definition = withExtProcCodec(serviceDefinition(EXT_PROC_PROTO, 'envoy.service.ext_proc.v3.ExternalProcessor'));
  /** Requests in flight, with the connection each came on. */
  const open = new Map<ExtProcSession, object | undefined>();
  let interrupting = false;
  const process = (call: DuplexCall<ProcessingRequest, ProcessingResponse>) => {
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
    if (session instanceof ExtProcSession) open.set(session, call.connection);
    const close = (end: Exclude<StreamEnd, 'interrupted'>) => {
      if (closing) return;
      closing = true;
      deps.metrics.extprocStreams.inc({ outcome: end });
      if (!(session instanceof ExtProcSession)) return session.close();
      open.delete(session);
      return session.close(interrupting ? 'interrupted' : end);
    };
    call.on('data', (msg: ProcessingRequest) => session.receive(msg));
    // Envoy half-closes the stream when the HTTP request is done (ext_proc_graceful_grpc_close);
    // CANCELLED means Envoy reset it, or Envoy and its connection went away.
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
  return {
    definition,
    implementation: { Process: process },
    get active() {
      return open.size;
    },
    movable(connection) {
      for (const [s, on] of open) if (on === connection && s.awaitsAttempts) return false;
      return true;
    },
    async interrupt() {
      interrupting = true;
      const cut = [...open.keys()];
      open.clear();
      await Promise.all(cut.map((s) => s.close('interrupted')));
    },
  };
}
