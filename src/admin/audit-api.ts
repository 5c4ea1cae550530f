import { errorBody } from '../domain/errors';
import { auditJson, type AuditService } from '../security/audit';
import type { SecuritySettings } from '../domain';
import type { Authenticate } from './auth';
import { auditScope } from './isolation';
import type { AdminRouter } from './router';
import { bad, BadParam, noScope, parseTime } from './usage-api';

const MAX_LIMIT = 1000;

function intParam(value: string | null, param: string, min: number, max: number, fallback: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,7}$/.test(value) || Number(value) < min || Number(value) > max) throw new BadParam(param, `'${param}' must be an integer from ${min} to ${max}.`);
  return Number(value);
}

/**
 * The cursor of the page after a record: its time and id, opaque to clients (base64url). Any
 * value that does not decode to that is refused, never passed on to the store.
 */
export function auditCursor(r: { time: number; id: string }): string {
  return Buffer.from(`${r.time}:${r.id}`).toString('base64url');
}

function cursorParam(value: string | null): { time: number; id: string } | undefined {
  if (value === null || value === '') return undefined;
  const m = /^[A-Za-z0-9_-]{1,400}$/.test(value) ? /^(\d{1,15}):([\x21-\x7e]{1,200})$/.exec(Buffer.from(value, 'base64url').toString('latin1')) : null;
  if (!m) throw new BadParam('before', "'before' must be the next_cursor of an earlier page.");
  return { time: Number(m[1]), id: m[2] };
}

function textParam(value: string | null, param: string, pattern: RegExp): string | undefined {
  if (value === null || value === '') return undefined;
  if (!pattern.test(value)) throw new BadParam(param, `'${param}' is not valid.`);
  return value;
}

/**
 * GET /v1/audit?start=&end=&action=&team=&request_id=&limit=&before= — newest first, a page at
 * a time (`before`: the previous page's `next_cursor`). Admins only, as auditScope() says: with
 * data isolation on, callers with a team see that team's records.
 */
export function registerAuditRoutes(router: AdminRouter, audit: AuditService, settings: { current(): SecuritySettings }, authenticate: Authenticate): void {
  router.add('GET', '/v1/audit', async (req) => {
    const isolation = settings.current().data_isolation_enabled;
    // Without isolation this is an admin endpoint: a non-admin is refused (and audited) as such.
    const caller = await authenticate(req, { requireAdmin: !isolation });
    if ('status' in caller) return caller;
    const scope = auditScope(caller, isolation);
    if (scope.kind === 'none' || scope.kind === 'key') return noScope('audit records');
    let q;
    try {
      const start = parseTime(req.query.get('start'), 'start');
      const end = parseTime(req.query.get('end'), 'end');
      if (start !== undefined && end !== undefined && end < start) throw new BadParam('end', "'end' must not be before 'start'.");
      q = {
        start,
        end,
        action: textParam(req.query.get('action'), 'action', /^[A-Za-z0-9_.:-]{1,100}$/),
        requestId: textParam(req.query.get('request_id'), 'request_id', /^[\x21-\x7e]{1,200}$/),
        team: scope.kind === 'team' ? scope.team : textParam(req.query.get('team'), 'team', /^[^\0]{1,200}$/),
        limit: intParam(req.query.get('limit'), 'limit', 1, MAX_LIMIT, 100),
        before: cursorParam(req.query.get('before')),
      };
    } catch (e) {
      if (e instanceof BadParam) return bad(e);
      throw e;
    }
    // Records this replica still has queued are written first, so a caller reads its own actions.
    await audit.flush();
    let records;
    try {
      // One more than asked: whether there is a next page.
      records = await audit.query({ ...q, limit: q.limit + 1 });
    } catch {
      return { status: 503, body: errorBody(503, 'audit_store_unavailable', 'The audit log cannot be read right now. Please retry shortly.'), headers: { 'retry-after': '1' } };
    }
    const hasMore = records.length > q.limit;
    const page = records.slice(0, q.limit);
    return {
      status: 200,
      body: { object: 'list', scope: scope.kind, data: page.map(auditJson), has_more: hasMore, next_cursor: hasMore ? auditCursor(page[page.length - 1]) : null },
    };
  });
}
