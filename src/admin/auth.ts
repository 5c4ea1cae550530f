import { errorBody } from '../errors';
import { presentedSecret } from '../keys/presented';
import type { KeyService } from '../keys/service';
import type { GatewayMetrics } from '../observability/metrics';
import type { AdminRequest, AdminResponse } from './router';

export interface AdminCaller {
  keyId: string;
  team: string | null;
  roles: string[];
  isAdmin: boolean;
}

const deny = (status: number, code: string, message: string): AdminResponse => ({ status, body: errorBody(status, code, message) });

/**
 * Authenticates callers of the admin API with the same keys as the LLM endpoints. Returns the
 * caller, or the error response to send.
 */
export function adminAuthenticator(keys: KeyService, metrics: GatewayMetrics) {
  return async (req: AdminRequest, opts: { requireAdmin: boolean }): Promise<AdminCaller | AdminResponse> => {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const secret = presentedSecret(header);
    if (!secret) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'missing' });
      return deny(401, 'missing_api_key', "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY).");
    }
    let r;
    try {
      r = await keys.authenticate(secret);
    } catch {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'unavailable' });
      return { ...deny(503, 'key_store_unavailable', 'The gateway cannot check API keys right now. Please retry shortly.'), headers: { 'retry-after': '1' } };
    }
    if (!r.ok) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: r.reason });
      return deny(401, r.reason === 'invalid' ? 'invalid_api_key' : `${r.reason}_api_key`, r.reason === 'invalid' ? 'Incorrect API key provided.' : `This API key has been ${r.reason}.`);
    }
    const isAdmin = r.key.roles.includes('admin');
    if (opts.requireAdmin && !isAdmin) {
      metrics.authOperations.inc({ operation: 'admin_auth', result: 'forbidden' });
      return deny(403, 'insufficient_permissions', 'This endpoint needs a key with the admin role.');
    }
    metrics.authOperations.inc({ operation: 'admin_auth', result: 'success' });
    return { keyId: r.key.id, team: r.key.team, roles: r.key.roles, isAdmin };
  };
}

export const isResponse = (x: AdminCaller | AdminResponse): x is AdminResponse => (x as AdminResponse).status !== undefined;
