import { definePlugin, type RequestContext } from '../../src/plugins/types';
import { DIMENSION_METADATA, publishRateLimitHeaders } from '../../src/ratelimit/descriptors';
import type { MatchField } from '../../src/ratelimit/config';

/**
 * Tells Envoy's rate limit filter who is calling and which model they ask for, so the
 * `rate_limits.rules` of gateway.yaml can match: the key (virtual key id), user, team,
 * certificate identity (mTLS) and model of each request, published as dynamic metadata
 * (`rl_key`, `rl_user`, `rl_team`, `rl_identity`, `rl_model` in the `llm-gateway` namespace).
 * Nothing of it reaches the provider. Place it after the authentication plugins.
 */

function identityOf(ctx: RequestContext): string | undefined {
  const p = ctx.principal;
  if (!p) return undefined;
  const attr = p.attributes?.identity;
  if (typeof attr === 'string') return attr;
  return p.kind === 'mtls' ? p.id : undefined;
}

export default definePlugin({
  name: 'rate-limit-descriptors',
  description: 'Publishes the caller and model to Envoy for the global rate limits',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create() {
    return {
      onRequest(ctx) {
        const p = ctx.principal;
        const dims: Record<MatchField, string | undefined> = {
          key: p?.kind === 'api_key' ? p.id : undefined,
          user: p?.user,
          team: p?.team,
          identity: identityOf(ctx),
          model: ctx.request.model,
        };
        for (const [field, value] of Object.entries(dims) as [MatchField, string | undefined][]) {
          // Envoy drops empty descriptor values; absent means "does not match a rule on this field".
          if (value) ctx.setDynamicMetadata(DIMENSION_METADATA[field], value);
        }
      },

      // The caller's limits, in OpenAI's x-ratelimit-* names, instead of the provider's.
      onResponseHeaders(ctx) {
        publishRateLimitHeaders(ctx);
      },
    };
  },
});
