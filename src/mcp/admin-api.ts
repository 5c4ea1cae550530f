import { errorBody } from '../domain/errors';
import { adminAction, type AuditSink } from '../admin/audit-helpers';
import type { AdminCaller, Authenticate } from '../admin/auth';
import type { AdminRequest, AdminResponse, AdminRouter } from '../admin/router';
import { McpServerSpecError, publicMcpServer, type McpServers } from './servers';

/**
 * GET/POST /v1/mcp/servers, GET/PUT/PATCH/DELETE /v1/mcp/servers/{name}: upstream MCP servers,
 * as /v1/providers manages providers. Admins only; changes need an admin without a team (the
 * servers serve every team). Credentials and header values are never answered; every change
 * leaves one audit record (`mcp_server.added|changed|removed`).
 */
export function registerMcpServerRoutes(router: AdminRouter, servers: McpServers, authenticate: Authenticate, audit?: AuditSink): void {
  const admin = (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => async (req: AdminRequest) => {
    const caller = await authenticate(req, { requireAdmin: true, requireUnscoped: req.method !== 'GET' && req.method !== 'HEAD' });
    return 'status' in caller ? caller : handler(req, caller);
  };
  const named = (req: AdminRequest, res?: AdminResponse) => {
    const name = req.params.name ?? (req.body as { name?: unknown } | undefined)?.name ?? (res?.body as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name.slice(0, 200) : undefined;
  };
  const putAction = (fallback: string) => (_req: AdminRequest, res: AdminResponse | undefined) =>
    res?.status === 201 ? 'mcp_server.added' : res && res.status < 400 ? 'mcp_server.changed' : fallback;
  const notFound = (name: string): AdminResponse => ({ status: 404, body: errorBody(404, 'mcp_server_not_found', `No MCP server named '${name.slice(0, 200)}'.`) });
  const failed = (err: unknown): AdminResponse => {
    if (!(err instanceof McpServerSpecError)) throw err;
    if (err.status === 404) return { status: 404, body: errorBody(404, 'mcp_server_not_found', err.message) };
    return { status: err.status, body: errorBody(err.status, err.status === 409 ? 'mcp_server_conflict' : 'invalid_mcp_server', err.message, err.param) };
  };
  const write = (opts: (req: AdminRequest) => { name?: string; merge?: boolean }) => async (req: AdminRequest) => {
    try {
      const r = await servers.put(req.body, opts(req));
      return { status: r.created ? 201 : 200, body: publicMcpServer(r.server) };
    } catch (err) {
      return failed(err);
    }
  };

  router.add('GET', '/v1/mcp/servers', admin(async () => ({ status: 200, body: { object: 'list', data: servers.all().map(publicMcpServer) } })));
  router.add(
    'GET',
    '/v1/mcp/servers/:name',
    admin(async (req) => {
      const s = servers.get(req.params.name);
      return s ? { status: 200, body: publicMcpServer(s) } : notFound(req.params.name);
    }),
  );
  router.add('POST', '/v1/mcp/servers', admin(adminAction(audit, putAction('mcp_server.added'), named, write(() => ({})))));
  router.add('PUT', '/v1/mcp/servers/:name', admin(adminAction(audit, putAction('mcp_server.changed'), named, write((req) => ({ name: req.params.name })))));
  router.add('PATCH', '/v1/mcp/servers/:name', admin(adminAction(audit, putAction('mcp_server.changed'), named, write((req) => ({ name: req.params.name, merge: true })))));
  router.add(
    'DELETE',
    '/v1/mcp/servers/:name',
    admin(adminAction(audit, 'mcp_server.removed', named, async (req) => {
      try {
        return (await servers.remove(req.params.name)) ? { status: 200, body: { name: req.params.name, deleted: true } } : notFound(req.params.name);
      } catch (err) {
        return failed(err);
      }
    })),
  );
}
