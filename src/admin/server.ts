import http from 'node:http';
import { hasDotSegment } from '../core/endpoints';
import { errorBody } from '../errors';
import { tooDeep } from '../validation/depth';
import type { Logger } from '../observability/logger';
import type { AdminRouter } from './router';

const MAX_ADMIN_BODY = 1024 * 1024;
/** Admin bodies are small settings objects; deeper nesting only serves to exhaust the stack. */
const MAX_ADMIN_DEPTH = 32;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The processor's HTTP API (health, metrics, management), reached through Envoy's admin routes. */
export function createAdminServer(router: AdminRouter, log: Logger): http.Server {
  // Envoy already caps request headers (60 KB by default, answered with a JSON 431); Node's own
  // 16 KB cap would answer bodiless 431s for what Envoy let through.
  const server = http.createServer({ maxHeaderSize: 96 * 1024 }, async (req, res) => {
    // Envoy routed on the path as sent; resolving `..` here could serve another route.
    if (hasDotSegment((req.url ?? '/').split('?')[0])) {
      return send(res, 400, errorBody(400, 'invalid_path', 'The request path must not contain `.` or `..` segments.'));
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      // Outside the try below, a throw here would be an unhandled rejection.
      return send(res, 400, errorBody(400, 'invalid_url', 'The request URL could not be parsed.'));
    }
    let status = 500;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_ADMIN_BODY) throw Object.assign(new Error('body too large'), { status: 413 });
        chunks.push(c as Buffer);
      }
      let body: unknown;
      if (size > 0) {
        try {
          // Strict: malformed UTF-8 is refused rather than turned into U+FFFD.
          body = JSON.parse(STRICT_UTF8.decode(Buffer.concat(chunks)));
        } catch {
          return send(res, (status = 400), errorBody(400, 'invalid_json', 'The request body must be valid JSON (in UTF-8).'));
        }
        const deep = tooDeep(body, MAX_ADMIN_DEPTH);
        if (deep !== undefined) {
          return send(res, (status = 400), errorBody(400, 'invalid_value', `The request body is nested more than ${MAX_ADMIN_DEPTH} levels deep.`, deep || null));
        }
      }
      const out = await router.dispatch({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body });
      status = out.status;
      if (out.raw !== undefined) {
        res.writeHead(out.status, { 'content-length': Buffer.byteLength(out.raw), ...out.headers });
        res.end(req.method === 'HEAD' ? undefined : out.raw);
      } else {
        send(res, out.status, out.body, out.headers);
      }
    } catch (err) {
      status = (err as { status?: number }).status ?? 500;
      if (status >= 500) log.error({ err: { message: (err as Error).message }, path: url.pathname }, 'admin request failed');
      send(res, status, errorBody(status, status === 413 ? 'request_too_large' : 'internal_error', status === 413 ? 'The request body is too large.' : 'The admin request failed.'));
    }
  });
  // Requests Node cannot parse get OpenAI JSON too, not Node's bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const data = JSON.stringify(errorBody(status, status === 431 ? 'request_headers_too_large' : 'bad_request', 'The request could not be parsed.'));
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`);
  });
  return server;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}
