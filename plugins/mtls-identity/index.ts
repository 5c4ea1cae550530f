import { definePlugin, findIdentityRule, GatewayError, identityRuleSchema, type IdentityRule } from '../../src';

/**
 * mTLS identities: turns the client certificate Envoy verified on the mTLS listener into the
 * request's principal, so an agent with a valid certificate needs no API key.
 *
 * The identity comes from `x-forwarded-client-cert`, which only Envoy can set: the mTLS listener
 * replaces whatever the client sent with the verified certificate's details (SANITIZE_SET) and the
 * plain listener strips the header (SANITIZE). Identity precedence: URI SAN (SPIFFE id), DNS SAN,
 * subject. Rules come from `mtls.identities` in gateway.yaml (handed over as the `identities`
 * option) and are tried in order.
 *
 * Runs before `virtual-keys`: a verified identity matching a rule sets the principal and
 * virtual-keys lets the request through without a key; a presented key still wins. A verified
 * identity matching no rule, without a key, gets 403 `identity_not_allowed`.
 */

interface Options {
  identities: IdentityRule[];
}

const XFCC = 'x-forwarded-client-cert';

export default definePlugin<Options>({
  name: 'mtls-identity',
  description: 'Maps verified client certificate identities (mTLS listener) to principals',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { identities: { type: 'array', items: identityRuleSchema, default: [] } },
  },
  create(options, host) {
    const results = host.metrics.counter('mtls_identity_requests_total', 'Requests carrying a verified client certificate, by result', ['result']);

    return {
      onRequestHeaders(ctx) {
        // The core never sends the certificate details upstream; it parses them for us.
        if (ctx.principal || !ctx.request.headers.has(XFCC)) return;
        const cert = ctx.request.clientCertificate;
        if (!cert) {
          // Envoy writes this header itself, so this should not happen; without an identity the
          // request simply needs an API key.
          ctx.log.warn('x-forwarded-client-cert without a usable identity');
          results.inc({ result: 'unparsable' });
          return;
        }

        const rule = findIdentityRule(options.identities, cert.identity);
        if (!rule) {
          // With a key the key decides (virtual-keys); without one the certificate alone is not enough.
          if (ctx.request.presentedKey !== undefined) return;
          results.inc({ result: 'not_allowed' });
          throw new GatewayError(403, 'identity_not_allowed', `The client certificate identity ${cert.identity} is not allowed to use this gateway.`);
        }
        results.inc({ result: 'matched' });
        ctx.principal = {
          id: rule.id ?? cert.identity,
          kind: 'mtls',
          user: rule.user,
          team: rule.team,
          tier: rule.tier,
          allowedModels: rule.allowed_models,
          allowedProviders: rule.allowed_providers,
          identity: cert.identity,
          quotaLimit: rule.quota_limit ?? null,
        };
      },
    };
  },
});
