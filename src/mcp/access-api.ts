import { errorBody } from '../domain/errors';
import { adminAction, type AuditSink } from '../admin/audit-helpers';
import type { AdminCaller, Authenticate } from '../admin/auth';
import type { AdminRequest, AdminResponse, AdminRouter } from '../admin/router';
import { McpAccessRuleError, type McpAccessRules } from './access';

/**
 * GET/POST /v1/mcp/access, GET/PUT/DELETE /v1/mcp/access/{id}: who may use which MCP servers
 * and tools, changed at run time. Reading needs the admin role; changes need an admin without
 * a team, since a rule can grant any team, key or identity any server (a team admin could
 * otherwise widen its own team's access). Every change leaves one audit record
 * (`mcp_access.added|changed|removed`, target the rule id).
 */
export function registerMcpAccessRoutes(router: AdminRouter, rules: McpAccessRules, authenticate: Authenticate, audit?: AuditSink): void {
  const admin = (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => async (req: AdminRequest) => {
    const caller = await authenticate(req, { requireAdmin: true, requireUnscoped: req.method !== 'GET' && req.method !== 'HEAD' });
    return 'status' in caller ? caller : handler(req, caller);
  };
  const target = (req: AdminRequest, res?: AdminResponse) => {
    const id = req.params.id ?? (res?.body as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' ? id.slice(0, 100) : undefined;
  };
  const notFound = (id: string): AdminResponse => ({ status: 404, body: errorBody(404, 'mcp_access_rule_not_found', `No MCP access rule with id '${id.slice(0, 100)}'.`) });
  const failed = (err: unknown): AdminResponse => {
    if (!(err instanceof McpAccessRuleError)) throw err;
    if (err.status === 404) return { status: 404, body: errorBody(404, 'mcp_access_rule_not_found', err.message) };
    return { status: err.status, body: errorBody(err.status, err.status === 409 ? 'mcp_access_rule_conflict' : 'invalid_mcp_access_rule', err.message, err.param) };
  };
  const write = (id: (req: AdminRequest) => string | undefined) => async (req: AdminRequest) => {
    try {
      const r = await rules.put(req.body, id(req));
      return { status: r.created ? 201 : 200, body: r.rule };
    } catch (err) {
      return failed(err);
    }
  };

  router.add('GET', '/v1/mcp/access', admin(async () => ({ status: 200, body: { object: 'list', data: rules.all() } })));
  router.add(
    'GET',
    '/v1/mcp/access/:id',
    admin(async (req) => {
      const r = rules.get(req.params.id);
      return r ? { status: 200, body: r } : notFound(req.params.id);
    }),
  );
  router.add('POST', '/v1/mcp/access', admin(adminAction(audit, 'mcp_access.added', target, write(() => undefined))));
  router.add('PUT', '/v1/mcp/access/:id', admin(adminAction(audit, 'mcp_access.changed', target, write((req) => req.params.id))));
  router.add(
    'DELETE',
    '/v1/mcp/access/:id',
    admin(adminAction(audit, 'mcp_access.removed', target, async (req) => {
      try {
        return (await rules.remove(req.params.id)) ? { status: 200, body: { id: req.params.id, deleted: true } } : notFound(req.params.id);
      } catch (err) {
        return failed(err);
      }
    })),
  );
}
