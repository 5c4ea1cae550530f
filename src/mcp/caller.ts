import type http from 'node:http';
import { GatewayError } from '../domain/errors';
import { findIdentityRule, type IdentityRule } from '../identity/config';
import { currentElement, identityOf } from '../identity/xfcc';
import { presentedSecret } from '../keys/presented';
import type { KeyService } from '../keys/service';
import type { McpCaller } from './policy';

const XFCC = 'x-forwarded-client-cert';

const KEY_FAILURES = {
  invalid: () => new GatewayError(401, 'invalid_api_key', 'Incorrect API key provided.'),
  revoked: () => new GatewayError(401, 'revoked_api_key', 'This API key has been revoked.'),
  expired: () => new GatewayError(401, 'expired_api_key', 'This API key has expired.'),
} as const;

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Authenticates a `/mcp` request the way the model endpoints do (the virtual-keys and
 * mtls-identity plugins): a virtual key (`Authorization: Bearer`, `x-api-key`, `api-key`) checked
 * by the key service, else the client certificate Envoy verified on the mTLS listener
 * (`x-forwarded-client-cert`, which Envoy strips on the plain listener) mapped by
 * `mtls.identities`. A presented key wins over a certificate. Throws GatewayError.
 */
export async function authenticateCaller(req: http.IncomingMessage, keys: KeyService, identities: readonly IdentityRule[]): Promise<McpCaller> {
  const secret = presentedSecret((name) => header(req, name));
  const xfcc = header(req, XFCC);
  let identity: string | undefined;
  if (xfcc !== undefined) {
    try {
      identity = identityOf(currentElement(xfcc))?.identity;
    } catch {
      identity = undefined;
    }
  }
  if (secret === undefined) {
    const rule = identity !== undefined ? findIdentityRule(identities, identity) : undefined;
    if (rule) return { id: rule.id ?? identity!, kind: 'mtls', user: rule.user, team: rule.team, tier: rule.tier, identity };
    if (identity !== undefined) throw new GatewayError(403, 'identity_not_allowed', `The client certificate identity ${identity} is not allowed to use this gateway.`);
    throw new GatewayError(401, 'missing_api_key', "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY).");
  }
  let r;
  try {
    r = await keys.authenticate(secret);
  } catch {
    throw new GatewayError(503, 'key_store_unavailable', 'The gateway cannot check API keys right now. Please retry shortly.', { headers: { 'retry-after': '1' } });
  }
  if (!r.ok) throw KEY_FAILURES[r.reason]();
  const key = r.key;
  return { id: key.id, kind: 'api_key', user: key.user ?? undefined, team: key.team ?? undefined, tier: key.tier, identity };
}
