import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * The processor's gRPC server: the gRPC-over-HTTP/2 protocol spoken directly on node:http2.
 *
 * Why not @grpc/grpc-js's Server: on the hot path (one ext_proc stream and four messages per
 * request) its per-message machinery — interceptor chains, a promise per decompression step,
 * metadata objects, async iteration of frames — measured about a third of the processor's CPU
 * and a good part of each round trip's wait. Envoy is the only client of this port and speaks
 * plain gRPC (no compression, no retries, no deadlines we must enforce), so the protocol needed
 * is small: length-prefixed messages in DATA frames, a status in the trailers. Services and
 * their (de)serializers are still the grpc-js/proto-loader `ServiceDefinition`s, and the call
 * objects keep the grpc-js surface the handlers use, so a handler runs on either server.
 */

/** gRPC status codes used here (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export interface CallError {
  code: number;
  details?: string;
}

/** Request metadata, as grpc-js's Metadata exposes it to handlers. */
export class CallMetadata {
  constructor(private readonly headers: http2.IncomingHttpHeaders) {}

  get(name: string): string[] {
    const v = this.headers[name.toLowerCase()];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : [v];
  }
}

/** A bidirectional-streaming call: 'data', 'end' (the client half-closed), 'cancelled', 'error', 'close'. */
export interface DuplexCall<Req, Res> extends EventEmitter {
  readonly metadata: { get(name: string): unknown[] };
  readonly cancelled: boolean;
  write(msg: Res): boolean;
  end(): void;
  getPeer(): string;
  /** The connection the call rides (the same object for every call on it). */
  readonly connection?: object;
  /** Never read: keeps the message type attached to the call type. */
  readonly __request?: Req;
}

export interface UnaryCall<Req> {
  readonly request: Req;
  readonly metadata: { get(name: string): unknown[] };
  getPeer(): string;
}

export type UnaryCallback<Res> = (err: CallError | null, res?: Res) => void;

type Handler = ((call: DuplexCall<unknown, unknown>) => void) | ((call: UnaryCall<unknown>, cb: UnaryCallback<unknown>) => void);

interface Method {
  kind: 'unary' | 'bidi';
  handler: Handler;
  deserialize: (buf: Buffer) => unknown;
  serialize: (msg: unknown) => Buffer;
}

export interface GrpcServerOptions {
  /** Largest request message accepted (bytes); replies are the gateway's own. */
  maxMessageBytes?: number;
}

const HEADER_BYTES = 5;

/** One gRPC frame: the uncompressed flag, the length, the message. */
function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, HEADER_BYTES);
  return out;
}

/** grpc-message is percent-encoded UTF-8 (the gRPC HTTP/2 spec): printable ASCII but '%' stays. */
function encodeMessage(details: string): string {
  const bytes = Buffer.from(details, 'utf8');
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * Splits a stream's DATA into gRPC messages. A chunk usually holds exactly one whole frame,
 * so that case allocates nothing beyond a view of the chunk.
 */
class FrameReader {
  /** Bytes of an incomplete frame, kept as the chunks came (joined once it is whole). */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** The incomplete frame's full size once its header is known. */
  private needed = 0;

  constructor(private readonly max: number) {}

  /**
   * Appends the messages this chunk completes to `out`. A frame it cannot take ends the call:
   * the error is returned after the messages before it, which are still delivered.
   */
  push(chunk: Buffer, out: Buffer[]): CallError | undefined {
    let buf = chunk;
    if (this.partBytes > 0) {
      // A large message comes in many chunks: wait for all of them rather than join each time.
      if (this.needed > 0 && this.partBytes + chunk.length < this.needed) {
        this.parts.push(chunk);
        this.partBytes += chunk.length;
        return undefined;
      }
      buf = Buffer.concat([...this.parts, chunk]);
      this.parts = [];
      this.partBytes = 0;
      this.needed = 0;
    }
    let pos = 0;
    while (buf.length - pos >= HEADER_BYTES) {
      if (buf[pos] !== 0) return { code: Status.UNIMPLEMENTED, details: 'compressed messages are not supported' };
      const len = buf.readUInt32BE(pos + 1);
      if (len > this.max) return { code: Status.RESOURCE_EXHAUSTED, details: `message of ${len} bytes is over the limit of ${this.max}` };
      if (buf.length - pos - HEADER_BYTES < len) {
        this.needed = HEADER_BYTES + len;
        break;
      }
      out.push(buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len));
      pos += HEADER_BYTES + len;
    }
    if (pos < buf.length) {
      this.parts.push(buf.subarray(pos));
      this.partBytes = buf.length - pos;
    }
    return undefined;
  }

  get empty(): boolean {
    return this.partBytes === 0;
  }
}

function peerOf(stream: http2.ServerHttp2Stream): string {
  const s = stream.session?.socket;
  return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
}

/** The server side of one call: response headers once, messages, then a status in the trailers. */
class ServerCall extends EventEmitter {
  cancelled = false;
  private headersSent = false;
  private finished = false;
  readonly metadata: CallMetadata;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    private readonly method: Method,
  ) {
    super();
    this.metadata = new CallMetadata(headers);
  }

  getPeer(): string {
    return peerOf(this.stream);
  }

  get connection(): object | undefined {
    return this.stream.session;
  }

  write(msg: unknown): boolean {
    if (this.finished || this.cancelled || this.stream.destroyed) return false;
    this.sendHeaders();
    return this.stream.write(frame(this.method.serialize(msg)));
  }

  /** Ends the call with OK (grpc-js's `call.end()`). */
  end(): void {
    this.finish({ code: Status.OK });
  }

  finish(status: CallError): void {
    if (this.finished) return;
    this.finished = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(status.code) };
    if (status.details) trailers['grpc-message'] = encodeMessage(status.details);
    if (!this.headersSent) {
      // Trailers-only: one HEADERS frame with the status.
      this.headersSent = true;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
      return;
    }
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  get done(): boolean {
    return this.finished;
  }
}

/** A gRPC server for unary and bidirectional-streaming methods on node:http2 (cleartext). */
export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly maxMessageBytes: number;

  constructor(opts: GrpcServerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
    this.server = http2.createServer({
      // Envoy multiplexes every request's ext_proc stream over a few connections.
      settings: { maxConcurrentStreams: 2 ** 31 - 1 },
      maxSessionMemory: 256,
    });
    // Replies are small and latency-bound: never hold one back for Nagle's algorithm.
    this.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream as http2.ServerHttp2Stream, headers));
  }

  /** Registers a service's methods (unary and bidirectional streaming only). */
  addService(definition: ServiceDefinition, implementation: Record<string, unknown>): void {
    for (const [name, def] of Object.entries(definition)) {
      const handler = implementation[name] ?? implementation[def.originalName ?? ''];
      if (typeof handler !== 'function') throw new Error(`gRPC service: no handler for ${def.path}`);
      if (def.requestStream !== def.responseStream) throw new Error(`gRPC service: ${def.path} streams one way only, which this server does not serve`);
      this.methods.set(def.path, {
        kind: def.requestStream ? 'bidi' : 'unary',
        handler: handler as Handler,
        deserialize: def.requestDeserialize as (buf: Buffer) => unknown,
        serialize: def.responseSerialize as (msg: unknown) => Buffer,
      });
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting; open connections get a GOAWAY and end when their calls do. */
  tryShutdown(done: () => void): void {
    this.server.close(() => done());
    for (const s of this.sessions) s.close();
  }

  /**
   * Asks clients to move: each open connection gets a GOAWAY once `mayClose` allows it (its
   * calls finish on it; new ones open a new connection, which node:cluster may hand to another
   * worker). Resolves with how many were closed before `timeoutMs`.
   */
  async closeConnections(mayClose: (connection: object) => boolean, timeoutMs: number): Promise<number> {
    const pending = new Set(this.sessions);
    const deadline = Date.now() + timeoutMs;
    let closed = 0;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const s of pending) {
        if (s.closed || s.destroyed) pending.delete(s);
        else if (mayClose(s)) {
          s.close();
          pending.delete(s);
          closed++;
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
    return closed;
  }

  /** Cuts every connection now. */
  forceShutdown(): void {
    this.server.close();
    // CANCEL, as grpc-js does: clients see their calls cancelled, not a protocol error.
    for (const s of this.sessions) s.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const method = this.methods.get(String(headers[':path']));
    const contentType = String(headers['content-type'] ?? '');
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415, 'grpc-status': String(Status.INTERNAL), 'grpc-message': 'not a gRPC request' }, { endStream: true });
      return;
    }
    if (!method) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(Status.UNIMPLEMENTED), 'grpc-message': encodeMessage(`unknown method ${headers[':path']}`) },
        { endStream: true },
      );
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (encoding && encoding !== 'identity') {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(Status.UNIMPLEMENTED), 'grpc-message': encodeMessage(`encoding ${encoding} is not supported`), 'grpc-accept-encoding': 'identity' },
        { endStream: true },
      );
      return;
    }
    const call = new ServerCall(stream, headers, method);
    if (method.kind === 'bidi') this.serveBidi(call, method);
    else this.serveUnary(call, method);
  }

  private serveBidi(call: ServerCall, method: Method): void {
    const stream = call.stream;
    const reader = new FrameReader(this.maxMessageBytes);
    const messages: Buffer[] = [];
    let failed = false;
    const fail = (err: CallError) => {
      failed = true;
      call.finish(err);
      // Like grpc-js: the status goes out whether or not the handler listens for errors.
      if (call.listenerCount('error') > 0) call.emit('error', Object.assign(new Error(err.details ?? 'call failed'), { code: err.code }));
    };
    const cancel = () => {
      if (call.cancelled) return;
      call.cancelled = true;
      call.emit('cancelled');
    };
    // A reset (or a dropped connection) ends the readable side too: that is no half-close.
    const wasReset = () => stream.aborted || (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR);
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      const err = reader.push(chunk, messages);
      try {
        for (let i = 0; i < messages.length; i++) call.emit('data', method.deserialize(messages[i]));
      } catch (e) {
        return fail({ code: Status.INTERNAL, details: `could not decode the request: ${(e as Error).message}` });
      } finally {
        messages.length = 0;
      }
      if (err) fail(err);
    });
    stream.on('end', () => {
      if (failed || call.cancelled) return;
      if (wasReset()) return cancel();
      if (!reader.empty) return fail({ code: Status.INTERNAL, details: 'the request ended inside a message' });
      call.emit('end');
    });
    stream.on('close', () => {
      // Closed before we ended our side, or reset after: the client cancelled or the connection died.
      if (!call.done || wasReset()) cancel();
      call.emit('close');
    });
    try {
      (method.handler as (call: DuplexCall<unknown, unknown>) => void)(call as unknown as DuplexCall<unknown, unknown>);
    } catch (e) {
      fail({ code: Status.UNKNOWN, details: `handler failed: ${(e as Error).message}` });
    }
  }

  private serveUnary(call: ServerCall, method: Method): void {
    const stream = call.stream;
    const reader = new FrameReader(this.maxMessageBytes);
    const messages: Buffer[] = [];
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      const err = reader.push(chunk, messages);
      if (err) {
        failed = true;
        call.finish(err);
      }
    });
    stream.on('close', () => {
      if (!call.done) call.cancelled = true;
    });
    stream.on('end', () => {
      if (failed) return;
      if (messages.length !== 1 || !reader.empty) return call.finish({ code: Status.INTERNAL, details: `a unary call takes one message, got ${messages.length}` });
      let request: unknown;
      try {
        request = method.deserialize(messages[0]);
      } catch (err) {
        return call.finish({ code: Status.INTERNAL, details: `could not decode the request: ${(err as Error).message}` });
      }
      const unary: UnaryCall<unknown> = { request, metadata: call.metadata, getPeer: () => call.getPeer() };
      const reply: UnaryCallback<unknown> = (err, res) => {
        if (call.cancelled) return;
        if (err) return call.finish(err);
        try {
          call.write(res);
        } catch (e) {
          return call.finish({ code: Status.INTERNAL, details: `could not encode the response: ${(e as Error).message}` });
        }
        call.finish({ code: Status.OK });
      };
      try {
        (method.handler as (call: UnaryCall<unknown>, cb: UnaryCallback<unknown>) => void)(unary, reply);
      } catch (e) {
        call.finish({ code: Status.UNKNOWN, details: `handler failed: ${(e as Error).message}` });
      }
    });
  }
}
