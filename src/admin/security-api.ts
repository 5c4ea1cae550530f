import { errorBody } from '../domain/errors';
import type { JsonValue, SecuritySettings } from '../domain';
import type { AuditService } from '../security/audit';
import type { SettingsService } from '../security/settings';
import { adminAction, type AuditSink } from './audit-helpers';
import type { AdminCaller, Authenticate } from './auth';
import type { AdminRequest, AdminResponse, AdminRouter } from './router';

const BOOLEAN_SETTINGS = ['content_filtering_enabled', 'audit_logging_enabled', 'data_isolation_enabled'] as const;

/** The settings as the API shows them, with the stored version they came from in a header. */
const view = (settings: SettingsService): AdminResponse => ({
  status: 200,
  body: settings.current(),
  headers: { 'x-gateway-settings-version': String(settings.version) },
});

/** Names of the settings that differ, compared as JSON. */
function changedSettings(before: SecuritySettings, after: SecuritySettings): string[] {
  return (Object.keys(after) as (keyof SecuritySettings)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/**
 * GET and PUT /v1/security/config (admin role). PUT takes the full settings or some of them,
 * merged onto the settings in force; the result is validated (the core's types, then each
 * plugin's validator, e.g. the content filter's rule sets), stored for every replica and applied
 * here before the answer, so the next request sees it. A refused PUT changes nothing.
 *
 * Reading takes any admin; changing takes an admin without a team (a team admin is refused,
 * audited as `admin.permission_denied`), as the settings apply to every team.
 *
 * Each PUT leaves one `security_config.changed` record. One that turns audit logging off is
 * still recorded (it is judged by the settings before and after the change, whichever audits).
 */
export function registerSecurityRoutes(router: AdminRouter, settings: SettingsService, audit: AuditService, authenticate: Authenticate): void {
  const admin = (handler: (req: AdminRequest, caller: AdminCaller) => Promise<AdminResponse>) => async (req: AdminRequest) => {
    // Whatever data isolation says: a team admin must never switch isolation off to escape its team.
    const caller = await authenticate(req, { requireAdmin: true, requireUnscoped: req.method !== 'GET' && req.method !== 'HEAD' });
    return 'status' in caller ? caller : handler(req, caller);
  };

  router.add('GET', '/v1/security/config', admin(async () => view(settings)));

  const change = async (req: AdminRequest): Promise<AdminResponse> => {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return { status: 400, body: errorBody(400, 'invalid_settings', 'The request body must be a JSON object of settings.') };
    }
    let result;
    try {
      result = await settings.update((current) => ({ ...current, ...(body as Partial<SecuritySettings>) }));
    } catch {
      return { status: 503, body: errorBody(503, 'settings_store_unavailable', 'The security settings cannot be stored right now. Please retry shortly.'), headers: { 'retry-after': '1' } };
    }
    if (!result.ok) {
      const { param, message } = result.problem;
      return { status: 400, body: errorBody(400, 'invalid_settings', `Invalid setting '${param}': ${message}.`, param) };
    }
    return view(settings);
  };

  router.add(
    'PUT',
    '/v1/security/config',
    admin(async (req, caller) => {
      const before = settings.current();
      // Recorded if auditing was on before the change or is on after it.
      const sink: AuditSink = {
        record: (e) => (before.audit_logging_enabled || settings.current().audit_logging_enabled ? audit.recordAlways(e) : undefined),
      };
      const summary = (): Record<string, JsonValue> => {
        const after = settings.current();
        const details: Record<string, JsonValue> = { changed: changedSettings(before, after), version: settings.version };
        for (const k of BOOLEAN_SETTINGS) if (before[k] !== after[k]) details[k] = after[k];
        return details;
      };
      return adminAction(sink, 'security_config.changed', () => undefined, change, (_req, res) => (res.status < 400 ? summary() : {}))(req, caller);
    }),
  );
}
