import { definePlugin, GatewayError, type Endpoint, type RequestContext } from '../../src';

/**
 * Virtual keys: authenticates the caller's key (Authorization: Bearer, X-API-Key or api-key)
 * against the gateway's key store, checks the key's roles for the endpoint, and injects the real
 * provider credential the key maps to. The key's allowed models and providers are enforced by
 * the core. The client's own credentials never go upstream (the core strips them).
 */

interface Options {
  /** Role a key needs per endpoint. */
  roles_by_endpoint: Partial<Record<Endpoint, string>>;
}

const FAILURES = {
  invalid: { code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  revoked: { code: 'revoked_api_key', message: 'This API key has been revoked.' },
  expired: { code: 'expired_api_key', message: 'This API key has expired.' },
} as const;

export default definePlugin<Options>({
  name: 'virtual-keys',
  description: 'Authenticates virtual keys and maps them to provider credentials',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      roles_by_endpoint: {
        type: 'object',
        additionalProperties: { enum: ['completion', 'embedding', 'admin'] },
        default: { 'chat.completions': 'completion', completions: 'completion', responses: 'completion', embeddings: 'embedding' },
      },
    },
  },
  create(options, host) {
    const auth = host.metrics.counter('auth_operations_total', 'Authentication and key management operations, by operation and result', ['operation', 'result']);
    // Credentials stay in the plugin, not in ctx.metadata where other plugins could log them.
    const credentials = new WeakMap<RequestContext, { provider: string | null; credential: string }>();

    return {
      async onRequestHeaders(ctx) {
        const secret = ctx.request.presentedKey;
        // An earlier plugin's principal stands, except that a key presented along with a client
        // certificate (mtls-identity) wins over the certificate.
        const earlier = ctx.principal;
        if (earlier && !(earlier.kind === 'mtls' && secret)) return;
        if (!secret) {
          auth.inc({ operation: 'authenticate', result: 'missing' });
          throw new GatewayError(401, 'missing_api_key', "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY).");
        }
        let r;
        try {
          r = await host.keys.authenticate(secret);
        } catch {
          auth.inc({ operation: 'authenticate', result: 'unavailable' });
          throw new GatewayError(503, 'key_store_unavailable', 'The gateway cannot check API keys right now. Please retry shortly.', { headers: { 'retry-after': '1' } });
        }
        if (!r.ok) {
          auth.inc({ operation: 'authenticate', result: r.reason });
          throw new GatewayError(401, FAILURES[r.reason].code, FAILURES[r.reason].message);
        }
        const key = r.key;
        const needed = options.roles_by_endpoint[ctx.request.endpoint];
        if (needed && !key.roles.includes(needed)) {
          auth.inc({ operation: 'authenticate', result: 'forbidden' });
          throw new GatewayError(403, 'insufficient_permissions', `This key does not have the '${needed}' role needed for ${ctx.request.path}.`);
        }
        auth.inc({ operation: 'authenticate', result: 'success' });
        ctx.principal = {
          id: key.id,
          kind: 'api_key',
          user: key.user ?? undefined,
          team: key.team ?? undefined,
          tier: key.tier,
          roles: key.roles,
          allowedModels: key.allowedModels ?? undefined,
          // A key carrying one provider's credential is for that provider unless it says otherwise.
          allowedProviders: key.allowedProviders ?? (key.provider ? [key.provider] : undefined),
          quotaLimit: key.quotaLimit,
          budgets: { tokens: key.tokenBudget, usd: key.budgetUsd },
          // Which provider the key brings its own credential for ('*': any), never the credential.
          credentialFor: r.credential ? (key.provider ?? '*') : null,
          attributes: { metadata: key.metadata },
        };
        if (r.credential) credentials.set(ctx, { provider: key.provider, credential: r.credential });
        if (earlier) ctx.log.info({ principal: key.id, identity: earlier.identity ?? earlier.id }, 'API key and client certificate presented: the key is used');
      },

      onUpstreamAttempt(ctx, attempt) {
        const c = credentials.get(ctx);
        if (c && (c.provider === null || c.provider === attempt.target.provider)) ctx.setProviderCredential(c.credential);
      },
    };
  },
});
