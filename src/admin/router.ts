import type http from 'node:http';
import { errorBody } from '../errors';

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Sent as is (e.g. Prometheus text) instead of JSON. */
  raw?: string;
}

export type AdminHandler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

/** A small method + exact-path router; admin endpoints register here. */
export class AdminRouter {
  private readonly routes = new Map<string, Map<string, AdminHandler>>();

  add(method: string, path: string, handler: AdminHandler): this {
    let byMethod = this.routes.get(path);
    if (!byMethod) this.routes.set(path, (byMethod = new Map()));
    byMethod.set(method.toUpperCase(), handler);
    return this;
  }

  async dispatch(req: AdminRequest): Promise<AdminResponse> {
    const byMethod = this.routes.get(req.path);
    if (!byMethod) return { status: 404, body: errorBody(404, 'unknown_url', `Unknown request URL: ${req.method} ${req.path}.`) };
    const handler = byMethod.get(req.method) ?? (req.method === 'HEAD' ? byMethod.get('GET') : undefined);
    if (!handler) {
      return {
        status: 405,
        body: errorBody(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}.`),
        headers: { allow: [...byMethod.keys()].join(', ') },
      };
    }
    return handler(req);
  }
}
