import crypto from 'node:crypto';
import { errorBody } from '../domain/errors';
import { presentedSecret } from '../keys/presented';
import type { KeyService } from '../keys/service';
import type { GatewayMetrics } from '../observability/metrics';
import type { AuditEvent } from '../domain';
import { sessionOf, type ConsoleSessions } from './console/sessions';
import { looksLikeJwt, type JwtVerifier } from './jwt';
import type { AdminRequest, AdminResponse } from './messages';

export interface AdminCaller {
  /** How the caller authenticated: an API key (admin or not) or a JWT bearer token. */
  kind: 'api_key' | 'jwt';
  /** The virtual key's id; null for JWT callers. */
  keyId: string | null;
  /** Who it is: the key's user (or name), or the JWT `sub`. */
  identity: string | null;
  team: string | null;
  roles: string[];
  isAdmin: boolean;
  /** Envoy's x-request-id of this admin request (generated when absent). */
  requestId: string;
}

export interface AuthRequirements {
  requireAdmin: boolean;
  /** Only an admin without a team: changes that apply to every team (providers, security settings). */
  requireUnscoped?: boolean;
}

export type Authenticate = (req: AdminRequest, opts: AuthRequirements) => Promise<AdminCaller | AdminResponse>;

export interface AdminAuthOptions {
  /** Accept JWT bearer tokens too (admin_auth.jwt). */
  jwt?: JwtVerifier;
  /** Where login failures are recorded (`admin.login_failed`). */
  audit?: { record(e: AuditEvent): void };
  /** Console sessions: a session cookie (with the console header) stands for its stored credential. */
  sessions?: ConsoleSessions;
}

const deny = (status: number, code: string, message: string, headers?: Record<string, string>, param: string | null = null): AdminResponse => ({
  status,
  body: errorBody(status, code, message, param),
  ...(headers ? { headers } : {}),
});

function header(req: AdminRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request id Envoy gave this request; a fresh one when the API is called directly. */
export function requestIdOf(req: AdminRequest): string {
  const id = header(req, 'x-request-id')?.trim();
  // Bounded and printable: it is stored in audit records and echoed in logs.
  return id && id.length <= 200 && /^[\x21-\x7e]+$/.test(id) ? id : crypto.randomUUID();
}

/** The audit actor of an authenticated caller. */
export const actorOf = (c: AdminCaller): NonNullable<AuditEvent['actor']> => ({
  keyId: c.keyId ?? undefined,
  identity: c.identity ?? undefined,
  team: c.team ?? undefined,
});

/** The team an admin's powers are held to (a team admin), or null: an admin of every team. */
export const adminTeam = (caller: AdminCaller): string | null => (caller.isAdmin && caller.team ? caller.team : null);

/**
 * Refuses an authenticated admin something beyond its team: 403 `insufficient_permissions`,
 * audited as `admin.permission_denied` with the reason. The message and record name only the
 * caller's own team, never the team of what it asked for.
 */
export function refuseBeyondTeam(
  audit: AdminAuthOptions['audit'],
  req: AdminRequest,
  caller: AdminCaller,
  denial: { reason: string; message: string; param?: string },
): AdminResponse {
  audit?.record({
    action: 'admin.permission_denied',
    outcome: 'denied',
    target: `${req.method} ${req.path}`,
    actor: actorOf(caller),
    requestId: caller.requestId,
    details: { credential: caller.kind, reason: denial.reason, status: 403 },
  });
  return deny(403, 'insufficient_permissions', denial.message, undefined, denial.param ?? null);
}

/**
 * Authenticates callers of the admin API: the same keys as the LLM endpoints, or (with
 * `admin_auth.jwt`) a JWT bearer token whose roles claim grants `admin`. Returns the caller, or
 * the error response to send. Every refusal (no credentials, bad ones, or no admin role where
 * it is required) is audited as `admin.login_failed`, without any part of the credential; a team
 * admin where `requireUnscoped` asks for an admin of every team is `admin.permission_denied`.
 */
export function adminAuthenticator(keys: KeyService, metrics: GatewayMetrics, opts: AdminAuthOptions = {}): Authenticate {
  return async (req, { requireAdmin, requireUnscoped }) => {
    const requestId = requestIdOf(req);
    const presented = presentedSecret((name) => header(req, name));
    // Without a credential of its own, a request may present a console session (./console).
    const session = presented === undefined && opts.sessions ? sessionOf(opts.sessions, req.headers) : undefined;
    const refuse = (response: AdminResponse, credential: string, reason: string, actor?: AuditEvent['actor']): AdminResponse => {
      // A session whose credential is refused now (revoked key, expired token) is over.
      if (session && session !== 'unknown') session.end();
      opts.audit?.record({
        action: 'admin.login_failed',
        outcome: 'denied',
        target: `${req.method} ${req.path}`,
        actor,
        requestId,
        details: { credential, reason, status: response.status },
      });
      return response;
    };
    if (session === 'unknown') {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'invalid_session' });
      return refuse(deny(401, 'invalid_session', 'The console session has ended or is unknown. Sign in again.'), 'session', 'invalid_session');
    }
    const secret = presented ?? session?.credential;
    if (!secret) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'missing' });
      return refuse(
        deny(401, 'missing_api_key', "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."),
        'none',
        'missing_credentials',
      );
    }

    let caller: AdminCaller;
    if (opts.jwt && looksLikeJwt(secret)) {
      const r = await opts.jwt.verify(secret);
      if (!r.ok) {
        metrics.authOperations.inc({ operation: 'admin_auth', result: `jwt_${r.reason}` });
        const expired = r.reason === 'expired';
        return refuse(
          deny(401, expired ? 'expired_token' : 'invalid_token', expired ? 'The bearer token has expired.' : 'The bearer token could not be verified.', {
            'www-authenticate': `Bearer error="invalid_token"`,
          }),
          'jwt',
          r.reason,
        );
      }
      caller = { kind: 'jwt', keyId: null, identity: r.subject, team: r.team, roles: r.roles, isAdmin: r.roles.includes('admin'), requestId };
    } else {
      let r;
      try {
        r = await keys.authenticate(secret);
      } catch {
        metrics.authOperations.inc({ operation: 'admin_auth', result: 'unavailable' });
        return { ...deny(503, 'key_store_unavailable', 'The gateway cannot check API keys right now. Please retry shortly.'), headers: { 'retry-after': '1' } };
      }
      if (!r.ok) {
        metrics.authOperations.inc({ operation: 'admin_auth', result: r.reason });
        const code = r.reason === 'invalid' ? 'invalid_api_key' : `${r.reason}_api_key`;
        return refuse(deny(401, code, r.reason === 'invalid' ? 'Incorrect API key provided.' : `This API key has been ${r.reason}.`), 'api_key', code);
      }
      const k = r.key;
      caller = { kind: 'api_key', keyId: k.id, identity: k.user ?? k.name ?? null, team: k.team, roles: k.roles, isAdmin: k.roles.includes('admin'), requestId };
    }
    if (requireAdmin && !caller.isAdmin) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'forbidden' });
      const what = caller.kind === 'jwt' ? 'a token with the admin role' : 'a key with the admin role';
      return refuse(deny(403, 'insufficient_permissions', `This endpoint needs ${what}.`), caller.kind, 'missing_admin_role', actorOf(caller));
    }
    if (requireUnscoped && adminTeam(caller) !== null) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'team_scoped' });
      return refuseBeyondTeam(opts.audit, req, caller, {
        reason: 'needs_unscoped_admin',
        message: `This change applies to every team; it needs an admin credential without a team, not one of team '${caller.team}'.`,
      });
    }
    metrics.authOperations.inc({ operation: 'admin_auth', result: 'success' });
    return caller;
  };
}

export const isResponse = (x: AdminCaller | AdminResponse): x is AdminResponse => (x as AdminResponse).status !== undefined;
