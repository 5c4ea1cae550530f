import { GatewayError } from '../../src/errors';
import { findIdentityRule, identityRuleSchema, type IdentityRule } from '../../src/identity/config';
import { currentElement, identityOf, type CertIdentity } from '../../src/identity/xfcc';
import { presentedSecret } from '../../src/keys/presented';
import { definePlugin } from '../../src/plugins/types';

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
        const header = ctx.request.headers.get(XFCC);
        if (!header) return;
        // The certificate details are for the gateway, not for the LLM provider.
        ctx.removeRequestHeader(XFCC);
        if (ctx.principal) return;

        let cert: CertIdentity | undefined;
        try {
          cert = identityOf(currentElement(header));
        } catch (err) {
          // Envoy writes this header itself, so this should not happen; without an identity the
          // request simply needs an API key.
          ctx.log.warn({ err: { message: (err as Error).message } }, 'unparsable x-forwarded-client-cert');
          results.inc({ result: 'unparsable' });
          return;
        }
        if (!cert) return;

        const rule = findIdentityRule(options.identities, cert.identity);
        if (!rule) {
          // With a key the key decides (virtual-keys); without one the certificate alone is not enough.
          if (presentedSecret((n) => ctx.request.headers.get(n)) !== undefined) return;
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
          attributes: { identity: cert.identity, quotaLimit: rule.quota_limit ?? null },
        };
      },

      // virtual-keys checks allowed providers for keys; this does it for identities.
      onUpstreamAttempt(ctx, attempt) {
        if (ctx.principal?.kind !== 'mtls') return;
        const allowed = ctx.principal.allowedProviders;
        if (allowed && allowed.length && !allowed.includes(attempt.target.provider)) {
          throw new GatewayError(403, 'provider_not_allowed', `This identity is not allowed to use the provider \`${attempt.target.provider}\`.`, { param: 'model' });
        }
      },
    };
  },
});
