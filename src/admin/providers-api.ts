import { errorBody } from '../domain/errors';
import { ProviderSpecError, publicProvider, type ProviderManager } from '../control/provider-manager';
import type { ProviderRegistry } from '../control/provider-registry';
import { INHERITED_NAME_PROBLEM, inheritedNameKeys } from '../domain/own';
import { adminAction, type AuditSink } from './audit-helpers';
import type { AdminCaller, Authenticate } from './auth';
import type { AdminRequest, AdminResponse, AdminRouter } from './router';

/** The spec's `headers` map takes any name: names every JavaScript object has are refused first. */
function putChecked(manager: ProviderManager, body: unknown, name?: string): ReturnType<ProviderManager['put']> {
  const [inherited] = inheritedNameKeys(body, '', 1);
  if (inherited !== undefined) throw new ProviderSpecError(`'${inherited}' is ${INHERITED_NAME_PROBLEM}.`, inherited);
  return manager.put(body, name);
}

/**
 * GET/POST /v1/providers, GET/PUT/DELETE /v1/providers/{name} (admin role). Keys are never echoed.
 * A POST may be LiteLLM's `{base_url, api_key, model_names}`: the answer names the provider.
 */
export function registerProviderRoutes(
  router: AdminRouter,
  registry: ProviderRegistry,
  manager: ProviderManager,
  authenticate: Authenticate,
  audit?: AuditSink,
): void {
  const admin = (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => async (req: AdminRequest) => {
    // Providers serve every team: changing them needs an admin without a team.
    const caller = await authenticate(req, { requireAdmin: true, requireUnscoped: req.method !== 'GET' && req.method !== 'HEAD' });
    return 'status' in caller ? caller : handler(req, caller);
  };
  // One audit record per change: added (201) or changed (200); a refused POST counts as an add.
  const putAction = (fallback: string) => (_req: AdminRequest, res: AdminResponse | undefined) =>
    res?.status === 201 ? 'provider.added' : res && res.status < 400 ? 'provider.changed' : fallback;
  // The audit target: a POST without a name is recorded under the name it was given.
  const named = (req: AdminRequest, res?: AdminResponse) => {
    const name = req.params.name ?? (req.body as { name?: unknown } | undefined)?.name ?? (res?.body as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name.slice(0, 200) : undefined;
  };
  const view = (name: string) => {
    const p = registry.get(name);
    return p && publicProvider(p, manager.source(name) ?? 'config', manager.storedCredential(name));
  };
  const failed = (err: unknown): AdminResponse => {
    if (err instanceof ProviderSpecError) return { status: err.status, body: errorBody(err.status, err.status === 409 ? 'provider_conflict' : 'invalid_provider', err.message, err.param) };
    throw err;
  };
  const notFound = (name: string): AdminResponse => ({ status: 404, body: errorBody(404, 'provider_not_found', `No provider named '${name}'.`) });

  router.add('GET', '/v1/providers', admin(async () => ({ status: 200, body: { object: 'list', data: registry.all().map((p) => view(p.name)) } })));
  router.add(
    'GET',
    '/v1/providers/:name',
    admin(async (req) => {
      const v = view(req.params.name);
      return v ? { status: 200, body: v } : notFound(req.params.name);
    }),
  );
  router.add(
    'POST',
    '/v1/providers',
    admin(adminAction(audit, putAction('provider.added'), named, async (req) => {
      try {
        const r = await putChecked(manager, req.body);
        return { status: r.created ? 201 : 200, body: { ...r.provider, applied: r.applied } };
      } catch (err) {
        return failed(err);
      }
    })),
  );
  router.add(
    'PUT',
    '/v1/providers/:name',
    admin(adminAction(audit, putAction('provider.changed'), named, async (req) => {
      try {
        const r = await putChecked(manager, req.body, req.params.name);
        return { status: r.created ? 201 : 200, body: { ...r.provider, applied: r.applied } };
      } catch (err) {
        return failed(err);
      }
    })),
  );
  router.add(
    'DELETE',
    '/v1/providers/:name',
    admin(adminAction(audit, 'provider.removed', named, async (req) => {
      try {
        const r = await manager.remove(req.params.name);
        return r.removed ? { status: 200, body: { name: req.params.name, deleted: true, applied: r.applied } } : notFound(req.params.name);
      } catch (err) {
        return failed(err);
      }
    })),
  );
}
