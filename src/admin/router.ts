import { errorBody } from '../domain/errors';
import { isResponse, type Authenticate } from './auth';
import type { AdminHandler, AdminRequest, AdminResponse, BodyReader } from './messages';

export type { AdminHandler, AdminRequest, AdminResponse, BodyReader };

interface Route {
  segments: string[];
  byMethod: Map<string, AdminHandler>;
}

/**
 * A small method + path router; `:name` segments capture one path segment.
 *
 * A body that comes with a reader (the admin server's) is read only once the handler has
 * authenticated its caller through withBodyAfterAuth(): anonymous and refused callers are
 * answered without it being read, and a handler that authenticates no one never sees a body.
 */
export class AdminRouter {
  private readonly routes: Route[] = [];
  private readonly unreadBodies = new WeakMap<AdminRequest, BodyReader>();

  /**
   * @param afterChange runs after a request that may have changed state (any method but GET and
   * HEAD) succeeded, before it is answered: processor workers re-read the store there, so the
   * caller's next request already sees the change.
   */
  constructor(private readonly afterChange?: () => Promise<void>) {}

  add(method: string, path: string, handler: AdminHandler): this {
    const segments = path.split('/').filter(Boolean);
    let route = this.routes.find((r) => r.segments.join('/') === segments.join('/'));
    if (!route) this.routes.push((route = { segments, byMethod: new Map() }));
    route.byMethod.set(method.toUpperCase(), handler);
    return this;
  }

  /** Every route served, as `METHOD /path` with `:name` segments (e.g. `GET /v1/keys/:id`). */
  listRoutes(): string[] {
    return this.routes.flatMap((r) => [...r.byMethod.keys()].map((method) => `${method} /${r.segments.join('/')}`));
  }

  private match(path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i];
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(parts[i]);
          } catch {
            ok = false;
          }
        } else ok = seg === parts[i];
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  /** The admin authenticator, reading the request's body once the caller is accepted. */
  withBodyAfterAuth(authenticate: Authenticate): Authenticate {
    return async (req, requirements) => {
      const caller = await authenticate(req, requirements);
      if (isResponse(caller)) return caller;
      const read = this.unreadBodies.get(req);
      if (!read) return caller;
      this.unreadBodies.delete(req);
      const got = await read();
      if ('status' in got) return got;
      req.body = got.body;
      return caller;
    };
  }

  /** Routes a request; with `readBody`, its body is left unread until authentication (above). */
  async dispatch(req: Omit<AdminRequest, 'params'>, readBody?: BodyReader): Promise<AdminResponse> {
    const found = this.match(req.path);
    if (!found) return { status: 404, body: errorBody(404, 'unknown_url', `Unknown request URL: ${req.method} ${req.path}.`) };
    const { byMethod } = found.route;
    const handler = byMethod.get(req.method) ?? (req.method === 'HEAD' ? byMethod.get('GET') : undefined);
    if (!handler) {
      return {
        status: 405,
        body: errorBody(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}.`),
        headers: { allow: [...byMethod.keys()].join(', ') },
      };
    }
    const request: AdminRequest = { ...req, params: found.params };
    if (readBody) this.unreadBodies.set(request, readBody);
    const res = await handler(request);
    if (this.afterChange && req.method !== 'GET' && req.method !== 'HEAD' && res.status < 400) await this.afterChange();
    return res;
  }
}
