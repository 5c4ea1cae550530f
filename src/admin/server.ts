import http from 'node:http';
import { errorBody } from '../errors';
import type { Logger } from '../observability/logger';
import type { AdminRouter } from './router';

const MAX_ADMIN_BODY = 1024 * 1024;

/** The processor's HTTP API (health, metrics, management), reached through Envoy's admin routes. */
export function createAdminServer(router: AdminRouter, log: Logger): http.Server {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
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
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(res, (status = 400), errorBody(400, 'invalid_json', 'The request body must be valid JSON.'));
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
