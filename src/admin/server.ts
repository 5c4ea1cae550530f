import http from 'node:http';
import { hasDotSegment } from '../core/endpoints';
import { errorBody } from '../domain/errors';
import { tooDeep } from '../domain/json-depth';
import type { Logger } from '../observability/logger';
import { registerDocsRoutes } from './openapi/routes';
import type { AdminResponse, AdminRouter, BodyReader } from './router';

/** Admin bodies are small settings objects; Envoy holds the admin routes to the same limit (bootstrap.ts). */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;
/**
 * How long an idle keep-alive connection stays open. Envoy's admin cluster drops idle
 * connections well before this (bootstrap.ts), so it never sends a request on one Node is closing.
 */
export const ADMIN_KEEP_ALIVE_MS = 30_000;
/** How much of a body left unread is read and dropped before the connection is cut instead. */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;
/** Admin bodies are small settings objects; deeper nesting only serves to exhaust the stack. */
const MAX_ADMIN_DEPTH = 32;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const tooLarge = (): AdminResponse => ({
  status: 413,
  body: errorBody(413, 'request_too_large', `The request body is larger than the admin API accepts (${MAX_ADMIN_BODY_BYTES} bytes).`),
});

function declaredLength(req: http.IncomingMessage): number | undefined {
  const n = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The body up to `limit` bytes, or undefined past it (the rest flows on, discarded). Events
 * rather than for-await: leaving a for-await early destroys the request, and Node then stops
 * reading the connection while answering it as keep-alive, so Envoy's next request on that
 * pooled connection hangs until Node closes it.
 */
function collect(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      stop();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    // Closed before its end: the client is gone (also when it left while being authenticated).
    const onClose = () => onError(new Error('request aborted'));
    if (req.destroyed) return onClose();
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function parseBody(raw: Buffer): { body: unknown } | AdminResponse {
  if (raw.length === 0) return { body: undefined };
  let body: unknown;
  try {
    // Strict: malformed UTF-8 is refused rather than turned into U+FFFD.
    body = JSON.parse(STRICT_UTF8.decode(raw));
  } catch {
    return { status: 400, body: errorBody(400, 'invalid_json', 'The request body must be valid JSON (in UTF-8).') };
  }
  const deep = tooDeep(body, MAX_ADMIN_DEPTH);
  if (deep !== undefined) {
    return { status: 400, body: errorBody(400, 'invalid_value', `The request body is nested more than ${MAX_ADMIN_DEPTH} levels deep.`, deep || null) };
  }
  return { body };
}

/** Reads the body when the router asks (after authentication); a declared oversize is refused unread. */
function bodyReader(req: http.IncomingMessage): BodyReader {
  return async () => {
    const length = declaredLength(req);
    if (length !== undefined && length > MAX_ADMIN_BODY_BYTES) return tooLarge();
    const raw = await collect(req, MAX_ADMIN_BODY_BYTES);
    return raw ? parseBody(raw) : tooLarge();
  };
}

/**
 * A body answered before its end (refused caller, 413) is read on and dropped: closing a socket
 * with bytes unread resets it, and the reset can overtake the answer (Envoy reports a 503).
 * Once the body ends, Node reads the next request on the connection; past the cap it is cut.
 */
function discardRest(req: http.IncomingMessage): void {
  let left = DISCARD_LIMIT_BYTES;
  req.on('data', (c: Buffer) => {
    left -= c.length;
    if (left < 0) req.socket.destroy();
  });
  req.resume();
}

/**
 * The processor's HTTP API (health, metrics, management), reached through Envoy's admin routes.
 * It also serves the API's description: /openapi.json and Swagger UI at /docs (./openapi).
 */
export function createAdminServer(router: AdminRouter, log: Logger): http.Server {
  registerDocsRoutes(router);
  // Envoy already caps request headers (60 KB by default, answered with a JSON 431); Node's own
  // 16 KB cap would answer bodiless 431s for what Envoy let through.
  const server = http.createServer({ maxHeaderSize: 96 * 1024 }, async (req, res) => {
    const reply = (out: AdminResponse) => {
      if (!req.readableEnded) discardRest(req);
      send(req, res, out);
    };
    // Envoy routed on the path as sent; resolving `..` here could serve another route.
    if (hasDotSegment((req.url ?? '/').split('?')[0])) {
      return reply({ status: 400, body: errorBody(400, 'invalid_path', 'The request path must not contain `.` or `..` segments.') });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      // Outside the try below, a throw here would be an unhandled rejection.
      return reply({ status: 400, body: errorBody(400, 'invalid_url', 'The request URL could not be parsed.') });
    }
    try {
      const request = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: undefined };
      reply(await router.dispatch(request, bodyReader(req)));
    } catch (err) {
      // The client went away mid-body: there is no one left to answer.
      if (req.destroyed) return;
      log.error({ err: { message: (err as Error).message }, path: url.pathname }, 'admin request failed');
      reply({ status: 500, body: errorBody(500, 'internal_error', 'The admin request failed.') });
    }
  });
  server.keepAliveTimeout = ADMIN_KEEP_ALIVE_MS;
  // Requests Node cannot parse get OpenAI JSON too, not Node's bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const data = JSON.stringify(errorBody(status, status === 431 ? 'request_headers_too_large' : 'bad_request', 'The request could not be parsed.'));
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`);
  });
  return server;
}

function send(req: http.IncomingMessage, res: http.ServerResponse, out: AdminResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const data = out.raw ?? JSON.stringify(out.body);
  res.writeHead(out.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    ...out.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : data);
}
