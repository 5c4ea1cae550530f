import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { GrpcServer, Status, type DuplexCall, type UnaryCall, type UnaryCallback } from '../../src/envoy/grpc/server';
import { createLogger } from '../../src/observability/logger';
import { compileRules } from '../../src/ratelimit/config';
import { MemoryCounters } from '../../src/ratelimit/counters';
import { RateLimiter, type RateLimitRequest } from '../../src/ratelimit/limiter';
import { rateLimitService } from '../../src/envoy/ratelimit/service';

/**
 * src/envoy/grpc/server.ts against real grpc-js clients (the protocol as a conforming client speaks it)
 * and a raw node:http2 client (exact control over frames, headers and DATA chunking).
 */

// ---------------------------------------------------------------------------------------------
// Service definitions made by hand: JSON messages for grpc-js clients, raw bytes for http2 tests.

type Codec = { serialize: (v: any) => Buffer; deserialize: (b: Buffer) => any };
const json: Codec = { serialize: (v) => Buffer.from(JSON.stringify(v)), deserialize: (b) => JSON.parse(b.toString('utf8')) };
// Copy: the server hands out views of its DATA chunks, and the tests keep messages around.
const bytes: Codec = { serialize: (b: Buffer) => b, deserialize: (b) => Buffer.from(b) };

function method(path: string, requestStream: boolean, responseStream: boolean, originalName: string, codec = json): grpc.MethodDefinition<any, any> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: codec.serialize,
    requestDeserialize: codec.deserialize,
    responseSerialize: codec.serialize,
    responseDeserialize: codec.deserialize,
    originalName,
  };
}

const echoService: grpc.ServiceDefinition = {
  Chat: method('/test.Echo/Chat', true, true, 'chat'),
  Say: method('/test.Echo/Say', false, false, 'say'),
};
// Same package, methods the server never registers.
const missingService: grpc.ServiceDefinition = {
  Missing: method('/test.Echo/Missing', false, false, 'missing'),
  MissingStream: method('/test.Echo/MissingStream', true, true, 'missingStream'),
};
const bytesService: grpc.ServiceDefinition = {
  Chat: method('/test.Bytes/Chat', true, true, 'chat', bytes),
  Say: method('/test.Bytes/Say', false, false, 'say', bytes),
};

// ---------------------------------------------------------------------------------------------
// Every server, grpc-js client and raw session a test opens is closed after it.

const servers: GrpcServer[] = [];
const clients: grpc.Client[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sessions.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(definition: grpc.ServiceDefinition, implementation: Record<string, unknown>, opts?: { maxMessageBytes?: number }) {
  const server = new GrpcServer(opts);
  servers.push(server);
  server.addService(definition, implementation);
  const port = await server.listen('127.0.0.1', 0);
  return { server, port };
}

function clientFor(definition: grpc.ServiceDefinition, port: number): any {
  const Ctor = grpc.makeGenericClientConstructor(definition, 'Test');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

/** A unary call as a promise; rejects with grpc-js's ServiceError. */
function unary(client: any, name: string, req: unknown, metadata = new grpc.Metadata()): Promise<any> {
  return new Promise((resolve, reject) => client[name](req, metadata, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

/** Values pushed by callbacks, awaited one at a time. */
class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  next(): Promise<T> {
    if (this.items.length) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** The client side of a bidi call: messages one at a time, and the final status. */
function watch(call: grpc.ClientDuplexStream<any, any>) {
  const messages = new Queue<any>();
  const all: any[] = [];
  call.on('data', (m) => {
    all.push(m);
    messages.push(m);
  });
  call.on('error', () => undefined); // the status below carries the same code
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return { messages, all, status };
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/2: gRPC framing by hand.

function frame(msg: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

function parseFrames(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    const len = body.readUInt32BE(pos + 1);
    out.push(body.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  return out;
}

/** Cuts buf into pieces of the given sizes, cycling through them. */
function split(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < buf.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

async function connect(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(session);
  session.on('error', () => undefined);
  await once(session, 'connect');
  return session;
}

const ping = (session: http2.ClientHttp2Session) => new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));

interface RawResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  messages: Buffer[];
  /** grpc-status from the trailers, or from the headers of a trailers-only response. */
  status: number;
  message: string | undefined;
}

/**
 * One request whose body is written chunk by chunk. A PING round trip after each write makes
 * every chunk its own DATA frame: the ack comes back only after the server has read the frames
 * sent before it, so the next write cannot be coalesced with this one.
 */
async function rawCall(port: number, path: string, chunks: Buffer[], extraHeaders: http2.OutgoingHttpHeaders = {}): Promise<RawResult> {
  const session = await connect(port);
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extraHeaders });
  req.on('error', () => undefined); // writes after a trailers-only answer may fail; the status is what counts
  let headers: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders = {};
  const body: Buffer[] = [];
  req.on('response', (h) => (headers = h));
  req.on('trailers', (t) => (trailers = t));
  req.on('data', (c: Buffer) => body.push(c));
  const closed = once(req, 'close');
  for (const c of chunks) {
    if (req.destroyed) break;
    req.write(c);
    await ping(session);
  }
  req.end();
  await closed;
  const status = trailers['grpc-status'] ?? headers['grpc-status'];
  const message = (trailers['grpc-message'] ?? headers['grpc-message']) as string | undefined;
  return { headers, trailers, messages: parseFrames(Buffer.concat(body)), status: status === undefined ? NaN : Number(status), message };
}

/** Resolves to the error code of a plain TCP connect ('connected' if it succeeds). */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

// ---------------------------------------------------------------------------------------------
// The echo service's handlers: every server-side call is queued for the test to inspect.

interface ServerLog {
  calls: Queue<DuplexCall<any, any>>;
  unaries: Queue<UnaryCall<any>>;
  events: string[];
}

type Say = (call: UnaryCall<any>, cb: UnaryCallback<any>) => void;

/** endOnEnd: answer a half-close by ending our side too, as the extproc and xDS handlers do. */
function echoImpl(log: ServerLog, say: Say = (call, cb) => cb(null, { echo: call.request }), { endOnEnd = true } = {}) {
  return {
    Chat: (call: DuplexCall<any, any>) => {
      log.calls.push(call);
      call.write({ hello: true }); // server speaks first: writes need no client message
      call.on('data', (m) => {
        log.events.push(`data:${JSON.stringify(m)}`);
        call.write({ echo: m });
      });
      call.on('end', () => {
        log.events.push('end');
        if (!endOnEnd) return;
        call.write({ bye: true });
        call.end();
        log.events.push(`write after end: ${call.write({ late: true })}`);
      });
      call.on('error', (e: Error & { code?: number }) => log.events.push(`error:${e.code}`));
      call.on('cancelled', () => log.events.push('cancelled'));
      call.on('close', () => log.events.push('close'));
    },
    Say: (call: UnaryCall<any>, cb: UnaryCallback<any>) => {
      log.unaries.push(call);
      say(call, cb);
    },
  };
}

const newLog = (): ServerLog => ({ calls: new Queue(), unaries: new Queue(), events: [] });

// =============================================================================================

describe('GrpcServer with grpc-js clients', () => {
  test('Status codes agree with grpc-js', () => {
    for (const [name, code] of Object.entries(Status)) expect(code).toBe(grpc.status[name as keyof typeof grpc.status]);
  });

  test('unary: the request reaches the handler and its response the client, status OK', async () => {
    const log = newLog();
    let peer = '';
    const { port } = await serve(
      echoService,
      echoImpl(log, (call, cb) => {
        peer = call.getPeer(); // while the call is open: a finished stream has no socket left
        cb(null, { echo: call.request });
      }),
    );
    const client = clientFor(echoService, port);
    const md = new grpc.Metadata();
    md.set('x-some-header', 'unary-value');
    await expect(unary(client, 'Say', { n: 1, s: 'héllo' }, md)).resolves.toEqual({ echo: { n: 1, s: 'héllo' } });
    const call = await log.unaries.next();
    expect(call.request).toEqual({ n: 1, s: 'héllo' });
    expect(call.metadata.get('x-some-header')).toEqual(['unary-value']);
    expect(peer).toMatch(/^127\.0\.0\.1:\d+$/);
    // The same connection serves further calls.
    await expect(unary(client, 'Say', 'again')).resolves.toEqual({ echo: 'again' });
  });

  test('unary handler error: the client gets its code and details, non-ASCII and % intact', async () => {
    // grpc-message is percent-encoded on the wire; grpc-js decodes it back.
    const details = 'bad input: 100% naïve — ünïcödé ✓ (%41 is not an escape)\nsecond line';
    const { port } = await serve(echoService, echoImpl(newLog(), (_call, cb) => cb({ code: Status.INVALID_ARGUMENT, details })));
    const client = clientFor(echoService, port);
    await expect(unary(client, 'Say', {})).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details });
  });

  test('unary handler error: characters outside the BMP (emoji) survive grpc-message encoding', async () => {
    // An emoji is a UTF-16 surrogate pair: it must be encoded as its 4 UTF-8 bytes, not per half.
    const details = 'quota 🚫 exceeded';
    const { port } = await serve(echoService, echoImpl(newLog(), (_call, cb) => cb({ code: Status.RESOURCE_EXHAUSTED, details })));
    const res = await rawCall(port, '/test.Echo/Say', [frame(json.serialize({}))]);
    expect(res.status).toBe(Status.RESOURCE_EXHAUSTED);
    expect(res.message).toBe('quota %F0%9F%9A%AB exceeded');
    const client = clientFor(echoService, port);
    await expect(unary(client, 'Say', {})).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details });
  });

  test('bidi: messages in order both ways, half-close gives the server "end", call.end() gives the client OK', async () => {
    const log = newLog();
    const { port } = await serve(echoService, echoImpl(log));
    const client = clientFor(echoService, port);
    const call = client.Chat() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    // The server's greeting arrives before the client has sent anything.
    await expect(seen.messages.next()).resolves.toEqual({ hello: true });
    const sent = [1, 'two', { three: 3 }, [4], 'five'];
    for (const m of sent) call.write(m);
    for (const m of sent) await expect(seen.messages.next()).resolves.toEqual({ echo: m });
    // No 'end' until the client half-closes.
    expect(log.events).not.toContain('end');
    call.end();
    const status = await seen.status;
    expect(status.code).toBe(grpc.status.OK);
    expect(seen.all).toEqual([{ hello: true }, ...sent.map((m) => ({ echo: m })), { bye: true }]);
    const server = await log.calls.next();
    if (!log.events.includes('close')) await once(server, 'close');
    expect(log.events).toEqual([...sent.map((m) => `data:${JSON.stringify(m)}`), 'end', 'write after end: false', 'close']);
    expect(server.cancelled).toBe(false);
  });

  test('bidi: metadata headers and the peer address reach the handler', async () => {
    const log = newLog();
    const { port } = await serve(echoService, echoImpl(log));
    const client = clientFor(echoService, port);
    const md = new grpc.Metadata();
    md.set('x-some-header', 'some value');
    const call = client.Chat(md) as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    const server = await log.calls.next();
    expect(server.metadata.get('x-some-header')).toEqual(['some value']);
    expect(server.metadata.get('X-Some-Header')).toEqual(['some value']); // names are case-insensitive
    expect(server.metadata.get('x-absent')).toEqual([]);
    const peer = server.getPeer();
    expect(peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number(peer.split(':')[1])).not.toBe(port); // the client's port, not ours
    call.end();
    expect((await seen.status).code).toBe(grpc.status.OK);
  });

  // Node's http2 stream emits 'end' before 'close' on a reset too (grpc-js's Server passes that
  // 'end' on as well), so a handler that ends its side on 'end' must still learn of the cancel.
  test.each([
    ['ignores "end"', false],
    ['ends its side on "end", as the project\'s handlers do', true],
  ])('bidi: a client cancel makes the server call emit "cancelled" and set cancelled (handler %s)', async (_name, endOnEnd) => {
    const log = newLog();
    const { port } = await serve(echoService, echoImpl(log, undefined, { endOnEnd }));
    const client = clientFor(echoService, port);
    const call = client.Chat() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    call.write('x');
    await seen.messages.next(); // hello
    await seen.messages.next(); // echo: the stream is open on both sides
    const server = await log.calls.next();
    expect(server.cancelled).toBe(false);
    const closed = once(server, 'close');
    call.cancel();
    expect((await seen.status).code).toBe(grpc.status.CANCELLED);
    await closed; // 'close' always comes; 'cancelled' must have come before it
    expect(log.events.filter((e) => e === 'cancelled' || e === 'close')).toEqual(['cancelled', 'close']);
    expect(server.cancelled).toBe(true);
    expect(server.write({ too: 'late' })).toBe(false);
    expect(() => server.end()).not.toThrow(); // harmless after a cancel
  });

  test('unknown method: UNIMPLEMENTED, unary and streaming', async () => {
    const { port } = await serve(echoService, echoImpl(newLog()));
    const client = clientFor(missingService, port);
    await expect(unary(client, 'Missing', {})).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: 'unknown method /test.Echo/Missing' });
    const call = client.MissingStream() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    call.write('x');
    expect(await seen.status).toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: 'unknown method /test.Echo/MissingStream' });
  });

  test('maxMessageBytes: a message at the limit passes, one byte over is RESOURCE_EXHAUSTED', async () => {
    const log = newLog();
    const { port } = await serve(echoService, echoImpl(log, (call, cb) => cb(null, call.request.length)), { maxMessageBytes: 64 });
    const client = clientFor(echoService, port);
    // JSON of a string of n characters is n + 2 bytes.
    await expect(unary(client, 'Say', 'x'.repeat(62))).resolves.toBe(62);
    await expect(unary(client, 'Say', 'x'.repeat(63))).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: 'message of 65 bytes is over the limit of 64',
    });

    const call = client.Chat() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    call.write('x'.repeat(62));
    await seen.messages.next(); // hello
    await expect(seen.messages.next()).resolves.toEqual({ echo: 'x'.repeat(62) });
    call.write('y'.repeat(63));
    expect(await seen.status).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'message of 65 bytes is over the limit of 64' });
    // The handler saw the error, never the oversized message.
    expect(log.events).toContain(`error:${Status.RESOURCE_EXHAUSTED}`);
    expect(log.events.filter((e) => e.startsWith('data:'))).toEqual([`data:"${'x'.repeat(62)}"`]);
  });
});

describe('GrpcServer with handlers that misbehave', () => {
  test('a handler that throws: the client gets UNKNOWN and the process lives on', async () => {
    const { port } = await serve(echoService, {
      Chat: () => {
        throw new Error('boom');
      },
      Say: () => {
        throw new Error('bang');
      },
    });
    const client = clientFor(echoService, port);
    await expect(unary(client, 'Say', { a: 1 })).rejects.toMatchObject({ code: grpc.status.UNKNOWN, details: 'handler failed: bang' });
    const { status } = watch(client.Chat());
    await expect(status).resolves.toMatchObject({ code: grpc.status.UNKNOWN, details: 'handler failed: boom' });
  });

  test('a bidi handler without an error listener: an oversized message still gets its status, no crash', async () => {
    const { port } = await serve(echoService, { Chat: (call: DuplexCall<any, any>) => call.on('data', () => undefined), Say: () => undefined }, { maxMessageBytes: 16 });
    const client = clientFor(echoService, port);
    const call = client.Chat();
    const { status } = watch(call);
    call.write({ text: 'far more than sixteen bytes' });
    await expect(status).resolves.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });
});

describe('GrpcServer with a real proto service (RateLimitService)', () => {
  test('ShouldRateLimit end to end: OK, OVER_LIMIT, and UNAVAILABLE from the handler', async () => {
    const limiter = (backend = new MemoryCounters() as ConstructorParameters<typeof RateLimiter>[0]['backend'], failureMode: 'fail_open' | 'fail_closed' = 'fail_open') =>
      new RateLimiter({
        limits: compileRules([{ name: 'rpm', match: { key: '*' }, requests_per_minute: 2 }]),
        backend,
        failureMode,
        log: createLogger('silent'),
        registry: new Registry(),
      });
    const ok = limiter();
    const down = limiter({ name: 'redis', apply: () => Promise.reject(new Error('down')), close: async () => undefined }, 'fail_closed');
    let current = ok;
    const svc = rateLimitService({ shouldRateLimit: (r: RateLimitRequest) => current.shouldRateLimit(r) } as RateLimiter);
    const { port } = await serve(svc.definition, svc.implementation);
    const client = clientFor(svc.definition, port);
    const req: RateLimitRequest = { domain: 'llm-gateway', descriptors: [{ entries: [{ key: 'kind', value: 'requests' }, { key: 'key', value: 'k1' }] }] };

    const first = await unary(client, 'ShouldRateLimit', req);
    expect(first.overall_code).toBe('OK');
    expect(first.statuses[0]).toMatchObject({ code: 'OK', current_limit: { name: 'rpm', requests_per_unit: 2, unit: 'MINUTE' }, limit_remaining: 1 });
    await unary(client, 'ShouldRateLimit', req);
    const third = await unary(client, 'ShouldRateLimit', req);
    expect(third.overall_code).toBe('OVER_LIMIT');
    expect(JSON.parse(Buffer.from(third.raw_body).toString()).error.code).toBe('rate_limit_exceeded');

    current = down;
    await expect(unary(client, 'ShouldRateLimit', req)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'rate limit counters unavailable: down',
    });
  });
});

describe('GrpcServer framing (raw HTTP/2 client)', () => {
  interface BytesCall {
    messages: Buffer[];
    chunks: number[];
    errors: number[];
  }
  let calls: BytesCall[];
  let port: number;

  beforeEach(async () => {
    calls = [];
    ({ port } = await serve(bytesService, {
      Chat: (call: DuplexCall<Buffer, Buffer>) => {
        const rec: BytesCall = { messages: [], chunks: [], errors: [] };
        calls.push(rec);
        // Watch the DATA chunks as the server's reader gets them, to prove how the body was split.
        (call as unknown as { stream: http2.ServerHttp2Stream }).stream.on('data', (c: Buffer) => rec.chunks.push(c.length));
        call.on('data', (m: Buffer) => {
          rec.messages.push(m);
          call.write(m);
        });
        call.on('error', (e: Error & { code: number }) => rec.errors.push(e.code));
        call.on('end', () => call.end());
      },
      Say: (call: UnaryCall<Buffer>, cb: UnaryCallback<Buffer>) => {
        calls.push({ messages: [call.request], chunks: [], errors: [] });
        cb(null, call.request);
      },
    }));
  });

  // Lengths that use more than the low byte of the length prefix, and an empty message.
  const messages = [Buffer.from('alpha'), Buffer.alloc(0), Buffer.alloc(300, 'abcdefghij'), Buffer.from('z')];
  const wire = Buffer.concat(messages.map((m) => frame(m)));

  test.each([
    ['all frames in one chunk', [wire.length]],
    ['one byte at a time', [1]],
    ['odd sizes across headers and bodies', [3, 7, 1, 2, 11, 5, 260]],
    ['a chunk ending mid-header then one spanning several frames', [2, 8, 9, 320]],
  ])('bidi: %s decodes every message in order', async (_name, sizes) => {
    const chunks = split(wire, sizes);
    const res = await rawCall(port, '/test.Bytes/Chat', chunks);
    expect(res.status).toBe(Status.OK);
    expect(calls).toHaveLength(1);
    // Each write arrived as its own DATA chunk, so the split really was exercised.
    expect(calls[0].chunks).toEqual(chunks.map((c) => c.length));
    expect(calls[0].messages).toEqual(messages);
    expect(res.messages).toEqual(messages);
    expect(res.headers[':status']).toBe(200);
    expect(res.headers['content-type']).toBe('application/grpc');
  });

  test('unary: one message split across DATA chunks is reassembled', async () => {
    const msg = Buffer.alloc(1000, 'the quick brown fox ');
    const res = await rawCall(port, '/test.Bytes/Say', split(frame(msg), [1, 4, 3, 500]));
    expect(res.status).toBe(Status.OK);
    expect(calls[0].messages).toEqual([msg]);
    expect(res.messages).toEqual([msg]);
  });

  test.each(['/test.Bytes/Chat', '/test.Bytes/Say'])('%s: a compressed frame is UNIMPLEMENTED', async (path) => {
    const res = await rawCall(port, path, [frame(Buffer.from('A'), 1)]);
    expect(res.status).toBe(Status.UNIMPLEMENTED);
    expect(res.message).toBe('compressed messages are not supported');
    for (const c of calls) expect(c.messages).toEqual([]);
    if (path.endsWith('Chat')) expect(calls[0].errors).toEqual([Status.UNIMPLEMENTED]);
  });

  test.each(['/test.Bytes/Chat', '/test.Bytes/Say'])('%s: grpc-encoding gzip is UNIMPLEMENTED before any handler runs', async (path) => {
    const res = await rawCall(port, path, [frame(Buffer.from('A'))], { 'grpc-encoding': 'gzip' });
    expect(res.status).toBe(Status.UNIMPLEMENTED);
    expect(res.message).toBe('encoding gzip is not supported');
    expect(res.headers['grpc-accept-encoding']).toBe('identity');
    expect(calls).toEqual([]);
  });

  test('grpc-encoding identity is accepted', async () => {
    const res = await rawCall(port, '/test.Bytes/Say', [frame(Buffer.from('A'))], { 'grpc-encoding': 'identity' });
    expect(res.status).toBe(Status.OK);
    expect(res.messages).toEqual([Buffer.from('A')]);
  });

  test('a body that ends inside a message is INTERNAL', async () => {
    const res = await rawCall(port, '/test.Bytes/Chat', [frame(Buffer.from('abc')).subarray(0, 6)]);
    expect(res.status).toBe(Status.INTERNAL);
    expect(res.message).toBe('the request ended inside a message');
    expect(calls[0].errors).toEqual([Status.INTERNAL]);
  });

  test('unary: zero or two messages is INTERNAL', async () => {
    const none = await rawCall(port, '/test.Bytes/Say', []);
    expect(none).toMatchObject({ status: Status.INTERNAL, message: 'a unary call takes one message, got 0' });
    const two = await rawCall(port, '/test.Bytes/Say', [Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))])]);
    expect(two).toMatchObject({ status: Status.INTERNAL, message: 'a unary call takes one message, got 2' });
    expect(calls).toEqual([]);
  });

  test('a bad frame after good ones: the good messages are delivered, then the call fails', async () => {
    const res = await rawCall(port, '/test.Bytes/Chat', [Buffer.concat([frame(Buffer.from('ok-1')), frame(Buffer.from('ok-2')), frame(Buffer.from('zz'), 1)])]);
    expect(res.status).toBe(Status.UNIMPLEMENTED);
    expect(calls[0].messages).toEqual([Buffer.from('ok-1'), Buffer.from('ok-2')]);
    expect(calls[0].errors).toEqual([Status.UNIMPLEMENTED]);
  });

  test('a request that is not gRPC gets HTTP 415', async () => {
    const res = await rawCall(port, '/test.Bytes/Say', [frame(Buffer.from('A'))], { 'content-type': 'application/json' });
    expect(res.headers[':status']).toBe(415);
    expect(calls).toEqual([]);
  });
});

describe('GrpcServer shutdown', () => {
  test('tryShutdown refuses new connections, lets an open call finish, then calls back', async () => {
    const log = newLog();
    const { server, port } = await serve(echoService, echoImpl(log));
    const client = clientFor(echoService, port);
    const call = client.Chat() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    call.write('before');
    await seen.messages.next(); // hello
    await seen.messages.next(); // echo: the call is in flight

    let done = false;
    const shutdown = new Promise<void>((resolve) =>
      server.tryShutdown(() => {
        done = true;
        resolve();
      }),
    );
    expect(await tcpConnect(port)).toBe('ECONNREFUSED');
    // The open call keeps working after the GOAWAY, and shutdown waits for it.
    call.write('during');
    await expect(seen.messages.next()).resolves.toEqual({ echo: 'during' });
    expect(done).toBe(false);

    call.end();
    expect((await seen.status).code).toBe(grpc.status.OK);
    await shutdown;
    expect(log.events).toContain('end');
    expect(log.events).not.toContain('cancelled');
  });

  test('tryShutdown with no connections calls back at once', async () => {
    const { server } = await serve(echoService, echoImpl(newLog()));
    await new Promise<void>((resolve) => server.tryShutdown(resolve));
  });

  // The handler ignores 'end' here so this checks forceShutdown itself; a handler that ends on
  // 'end' loses the 'cancelled' the same way as in the client-cancel test above.
  test('forceShutdown ends open calls: the server call is cancelled, the clients get an error', async () => {
    const log = newLog();
    const { server, port } = await serve(echoService, echoImpl(log, () => undefined /* never answers */, { endOnEnd: false }));
    const client = clientFor(echoService, port);
    const call = client.Chat() as grpc.ClientDuplexStream<any, any>;
    const seen = watch(call);
    call.write('x');
    await seen.messages.next();
    await seen.messages.next();
    const pendingUnary = unary(client, 'Say', 'waiting').then(
      () => 'answered',
      (err: grpc.ServiceError) => err.code,
    );
    await log.unaries.next(); // the unary handler holds its call open
    const serverCall = await log.calls.next();
    const closed = once(serverCall, 'close');

    server.forceShutdown();
    await closed;
    expect(log.events).toContain('cancelled');
    expect(serverCall.cancelled).toBe(true);
    // Both calls fail rather than hang. (The codes differ: the bidi call, whose response headers
    // were out, gets a RST_STREAM NO_ERROR, which grpc-js reports as INTERNAL; the unary one
    // UNAVAILABLE.)
    expect((await seen.status).code).not.toBe(grpc.status.OK);
    expect(await pendingUnary).not.toBe('answered');
    expect(await tcpConnect(port)).toBe('ECONNREFUSED');
  });
});

describe('GrpcServer.closeConnections', () => {
  test('a connection is closed only once allowed; its open call still finishes, and new calls get a new connection', async () => {
    const log = newLog();
    const { server, port } = await serve(echoService, echoImpl(log));
    const client = clientFor(echoService, port);
    const call = client.Chat();
    const { messages, status } = watch(call);
    expect(await messages.next()).toEqual({ hello: true });
    const serverCall = await log.calls.next();
    let allowed = false;
    // Not allowed: nothing closes before the time runs out.
    expect(await server.closeConnections(() => allowed, 120)).toBe(0);
    // Allowed: the connection gets a GOAWAY; the call on it goes on to its end.
    const closing = server.closeConnections((c) => allowed && c === serverCall.connection, 2000);
    allowed = true;
    expect(await closing).toBe(1);
    call.write({ after: 'goaway' });
    expect(await messages.next()).toEqual({ echo: { after: 'goaway' } });
    call.end();
    await expect(status).resolves.toMatchObject({ code: grpc.status.OK });
    // The client opens a new connection for the next call.
    await expect(unary(client, 'Say', { n: 1 })).resolves.toEqual({ echo: { n: 1 } });
  });
});

describe('GrpcServer.addService', () => {
  const handler = () => undefined;

  test.each([
    ['client streaming', true, false],
    ['server streaming', false, true],
  ])('a %s method is refused', (_name, requestStream, responseStream) => {
    const server = new GrpcServer();
    const definition = { Up: method('/test.Echo/Up', requestStream, responseStream, 'up') };
    expect(() => server.addService(definition, { Up: handler })).toThrow('gRPC service: /test.Echo/Up streams one way only, which this server does not serve');
  });

  test('a method without a handler is refused', () => {
    const server = new GrpcServer();
    expect(() => server.addService(echoService, { Chat: handler })).toThrow('gRPC service: no handler for /test.Echo/Say');
    expect(() => server.addService(echoService, { Chat: handler, Say: 'not a function' })).toThrow('gRPC service: no handler for /test.Echo/Say');
  });

  test('handlers are found by originalName too, as grpc-js does', async () => {
    const log = newLog();
    const impl = echoImpl(log);
    const { port } = await serve(echoService, { chat: impl.Chat, say: impl.Say });
    const client = clientFor(echoService, port);
    await expect(unary(client, 'Say', 'hi')).resolves.toEqual({ echo: 'hi' });
  });
});
