import type { SecuritySettings } from '../domain';
import type { AuditSink } from './audit-helpers';
import { adminTeam, refuseBeyondTeam, type AdminCaller } from './auth';
import type { AdminRequest, AdminResponse } from './router';

/** Settings for callers that do not pass theirs: data isolation off. */
export const ISOLATION_OFF = { current: () => ({ data_isolation_enabled: false }) as SecuritySettings };

/** Whose records a caller may read: everything, one team's, or one key's. */
export type Scope = { kind: 'all' } | { kind: 'team'; team: string } | { kind: 'key'; keyId: string } | { kind: 'none' };

/**
 * What a caller may read of usage (and, through auditScope, of the audit log), given
 * `data_isolation_enabled`:
 *
 * - admins see everything when isolation is off; when it is on, an admin with a team sees that
 *   team only, and an admin without a team (the operators' keys, `keys.admin`) still sees all;
 * - a key holder sees its own key when isolation is off (as before); when it is on, its team
 *   (never beyond it), or only its own key if the key has no team;
 * - a JWT caller without the admin role has no key: it sees its team (the `team` claim), or
 *   nothing.
 */
export function usageScope(caller: AdminCaller, isolation: boolean): Scope {
  if (caller.isAdmin) return isolation && caller.team ? { kind: 'team', team: caller.team } : { kind: 'all' };
  if (isolation && caller.team) return { kind: 'team', team: caller.team };
  if (caller.keyId) return { kind: 'key', keyId: caller.keyId };
  return caller.team ? { kind: 'team', team: caller.team } : { kind: 'none' };
}

/**
 * The audit log is for admins; with isolation on, an admin with a team sees its team's records
 * (records whose actor is of that team), and so may a non-admin caller with a team.
 */
export function auditScope(caller: AdminCaller, isolation: boolean): Scope {
  if (caller.isAdmin) return isolation && caller.team ? { kind: 'team', team: caller.team } : { kind: 'all' };
  return isolation && caller.team ? { kind: 'team', team: caller.team } : { kind: 'none' };
}

type AdminHandler = (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>;
type KeyTeams = { getRecord(id: string): Promise<{ team: string | null } | undefined> };

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isRead = (req: AdminRequest) => req.method === 'GET' || req.method === 'HEAD';

/** Why a team admin may not make this keys API call, or undefined when it may. */
async function keyDenial(keys: KeyTeams, req: AdminRequest, team: string): Promise<{ reason: string; message: string; param?: string } | undefined> {
  if (req.params.id !== undefined) {
    const key = await keys.getRecord(req.params.id);
    // An unknown id goes on to the handler's 404.
    if (key && key.team !== team) return { reason: 'other_team_key', message: `This key does not belong to team '${team}'; only an admin without a team may manage it.` };
  }
  if (!isRead(req) && isObject(req.body) && Object.hasOwn(req.body, 'team') && req.body.team !== team) {
    return { reason: 'other_team', message: `A team admin may only give keys its own team ('${team}'); only an admin without a team may name another.`, param: 'team' };
  }
  return undefined;
}

/** The request with the caller's team filled in where it names none: a listing's filter, a new key's team. */
function withTeam(req: AdminRequest, team: string): AdminRequest {
  if (isRead(req)) {
    if (req.params.id !== undefined) return req;
    const query = new URLSearchParams(req.query);
    query.set('team', team);
    return { ...req, query };
  }
  // A body that is not an object is left to the handler's 400.
  const fill = req.method === 'POST' && (req.body === undefined || (isObject(req.body) && !Object.hasOwn(req.body, 'team')));
  return fill ? { ...req, body: { ...(req.body as object | undefined), team } } : req;
}

/**
 * Holds a team admin (an admin whose key or token carries a team) to its team on the keys API;
 * admins without a team are not held. Writes always, whatever data isolation says, so that a
 * team admin can never mint itself a key of no team (an unscoped admin): it may create keys in
 * its team only (a create without `team` gets its team, one naming another is refused), and
 * change or revoke only its team's keys, never moving one out. Reads only with data isolation
 * on, as for usage: the listing is its team's, and another team's key is refused.
 *
 * A refusal is 403 `insufficient_permissions`, audited as `admin.permission_denied`.
 */
export function keysConfinement(keys: KeyTeams, settings: { current(): SecuritySettings }, audit?: AuditSink): (handler: AdminHandler) => AdminHandler {
  return (handler) => async (req, caller) => {
    const team = adminTeam(caller);
    if (team === null || (isRead(req) && !settings.current().data_isolation_enabled)) return handler(req, caller);
    const denial = await keyDenial(keys, req, team);
    return denial ? refuseBeyondTeam(audit, req, caller, denial) : handler(withTeam(req, team), caller);
  };
}
