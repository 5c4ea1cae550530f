import { errorBody } from '../domain/errors';
import { KeyManagedError, KeySpecError, type KeyService } from '../keys/service';
import type { KeySpec } from '../keys/schema';
import type { GatewayMetrics } from '../observability/metrics';
import type { SecuritySettings } from '../domain';
import { StoreConflictError } from '../store/types';
import { adminAction, type AuditSink } from './audit-helpers';
import type { AdminCaller, Authenticate } from './auth';
import { keysConfinement, ISOLATION_OFF } from './isolation';
import type { AdminRequest, AdminResponse, AdminRouter } from './router';
import { bad, BadParam } from './usage-api';

const MAX_PAGE = 1000;

/** `limit` and `after` of a paged listing, or undefined when neither is given (every key, as before). */
function pageParams(req: AdminRequest): { limit: number; after?: string } | undefined {
  const limit = req.query.get('limit');
  const after = req.query.get('after');
  if (limit === null && after === null) return undefined;
  if (limit !== null && (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_PAGE)) throw new BadParam('limit', `'limit' must be an integer from 1 to ${MAX_PAGE}.`);
  if (after !== null && (after.length === 0 || after.length > 200)) throw new BadParam('after', "'after' must be a key id.");
  return { limit: limit === null ? 100 : Number(limit), ...(after === null ? {} : { after }) };
}

const notFound = (id: string): AdminResponse => ({ status: 404, body: errorBody(404, 'key_not_found', `No key with id '${id}'.`) });

function specError(err: unknown): AdminResponse {
  if (err instanceof KeySpecError) return { status: 400, body: errorBody(400, 'invalid_key_settings', err.message, err.param) };
  if (err instanceof StoreConflictError) return { status: 409, body: errorBody(409, 'key_conflict', 'A key with the same id already exists.') };
  // Keys from keys.json or the configuration follow their source; the API may only revoke them.
  if (err instanceof KeyManagedError) return { status: 409, body: errorBody(409, 'key_conflict', err.message, 'id') };
  throw err;
}

/** The keys API (admin role): create (secret shown once), list, get, update, revoke. */
export function registerKeyRoutes(
  router: AdminRouter,
  keys: KeyService,
  metrics: GatewayMetrics,
  authenticate: Authenticate,
  audit?: AuditSink,
  settings: { current(): SecuritySettings } = ISOLATION_OFF,
): void {
  // A team admin is held to its team's keys before anything else (isolation.ts).
  const confined = keysConfinement(keys, settings, audit);
  const admin = (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => async (req: AdminRequest) => {
    const caller = await authenticate(req, { requireAdmin: true });
    return 'status' in caller ? caller : confined(handler)(req, caller);
  };
  // Changes are audited with the names of the fields sent, never their values (provider keys).
  const changing = (action: string, target: (req: AdminRequest, res: AdminResponse) => string | undefined) =>
    (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => admin(adminAction(audit, action, target, handler));
  const count = (operation: string, result: string) => metrics.authOperations.inc({ operation, result });

  router.add(
    'POST',
    '/v1/keys',
    changing('key.created', (_req, res) => (res.body as { id?: string }).id)(async (req) => {
      try {
        const { key, secret } = await keys.create((req.body ?? {}) as KeySpec);
        count('create_key', 'success');
        return { status: 201, body: { object: 'virtual_key', ...key, key: secret } };
      } catch (err) {
        count('create_key', 'invalid');
        return specError(err);
      }
    }),
  );
  router.add(
    'GET',
    '/v1/keys',
    admin(async (req) => {
      let page;
      try {
        page = pageParams(req);
      } catch (e) {
        return bad(e as BadParam);
      }
      // A team admin's listing has its team set by keysConfinement (with data isolation on).
      const team = req.query.get('team') ?? undefined;
      if (!page) return { status: 200, body: { object: 'list', data: await keys.list({ team }) } };
      // The page after the key `after` (newest first), read by the store with LIMIT and a keyset
      // condition. A key outside the listing (unknown, another team's) is refused, not read as the start.
      let after;
      if (page.after !== undefined) {
        const from = await keys.getRecord(page.after);
        if (!from || (team !== undefined && from.team !== team)) return bad(new BadParam('after', "'after' names no key of this listing."));
        after = { createdAt: from.createdAt, id: from.id };
      }
      // One more than asked: whether there is a next page.
      const rows = await keys.list({ team, after, limit: page.limit + 1 });
      const data = rows.slice(0, page.limit);
      return { status: 200, body: { object: 'list', data, has_more: rows.length > page.limit, last_id: data.at(-1)?.id ?? null } };
    }),
  );
  router.add(
    'GET',
    '/v1/keys/:id',
    admin(async (req) => {
      const key = await keys.get(req.params.id);
      return key ? { status: 200, body: { object: 'virtual_key', ...key } } : notFound(req.params.id);
    }),
  );
  const update = changing('key.updated', (req) => req.params.id)(async (req) => {
    try {
      const key = await keys.update(req.params.id, (req.body ?? {}) as KeySpec);
      count('update_key', key ? 'success' : 'not_found');
      return key ? { status: 200, body: { object: 'virtual_key', ...key } } : notFound(req.params.id);
    } catch (err) {
      count('update_key', 'invalid');
      return specError(err);
    }
  });
  router.add('PATCH', '/v1/keys/:id', update);
  router.add('PUT', '/v1/keys/:id', update);
  router.add(
    'DELETE',
    '/v1/keys/:id',
    changing('key.revoked', (req) => req.params.id)(async (req) => {
      const key = await keys.revoke(req.params.id);
      count('revoke_key', key ? 'success' : 'not_found');
      return key ? { status: 200, body: { object: 'virtual_key', ...key, revoked: true } } : notFound(req.params.id);
    }),
  );
}
