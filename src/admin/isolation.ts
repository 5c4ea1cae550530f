import type { AdminCaller } from './auth';

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
