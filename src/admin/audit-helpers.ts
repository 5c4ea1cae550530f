import type { AuditEvent, JsonValue } from '../domain';
import { actorOf, type AdminCaller } from './auth';
import type { AdminRequest, AdminResponse } from './router';

/** Where admin actions are recorded (the AuditService, or nothing in tests that don't care). */
export interface AuditSink {
  record(e: AuditEvent): void;
}

/** The top-level field names of a JSON body: what an admin sent, without any value (secrets). */
export function fieldNames(body: unknown): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  return Object.keys(body).sort().slice(0, 50);
}

/**
 * Wraps an admin handler that changes something so that each call leaves exactly one audit
 * record: `success` for a 2xx/3xx answer, `failure` otherwise (including a thrown error), with
 * the caller, the request id, the target and the names of the fields sent. Only called for
 * authenticated admins: refused callers are recorded by the authenticator (`admin.login_failed`).
 */
export function adminAction(
  audit: AuditSink | undefined,
  action: string | ((req: AdminRequest, res: AdminResponse | undefined) => string),
  target: (req: AdminRequest, res: AdminResponse) => string | undefined,
  handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>,
  /** More details from the answer (never secrets or content). */
  more?: (req: AdminRequest, res: AdminResponse) => Record<string, JsonValue>,
): (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse> {
  return async (req, caller) => {
    let res: AdminResponse | undefined;
    try {
      res = await handler(req, caller);
      return res;
    } finally {
      const status = res?.status ?? 500;
      const error = (res?.body as { error?: { code?: string | null; param?: string | null } } | undefined)?.error;
      const details: Record<string, JsonValue> = { status, fields: fieldNames(req.body) };
      if (error?.code) details.error = error.code;
      if (error?.param) details.param = error.param;
      if (res && more) Object.assign(details, more(req, res));
      let t: string | undefined;
      try {
        t = res ? target(req, res) : req.params.id ?? req.params.name;
      } catch {
        t = undefined;
      }
      audit?.record({ action: typeof action === 'string' ? action : action(req, res), outcome: status < 400 ? 'success' : 'failure', target: t, actor: actorOf(caller), requestId: caller.requestId, details });
    }
  };
}
