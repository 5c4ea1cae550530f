import { definePlugin, type RateLimitDimension, type RequestContext } from '../../src';

/**
 * Tells Envoy's rate limit filter who is calling and which model they ask for, so the
 * `rate_limits.rules` of gateway.yaml can match: the key (virtual key id), user, team,
 * certificate identity (mTLS) and model of each request, through the rate limit capability.
 * Nothing of it reaches the provider. Place it after the authentication plugins.
 */

function identityOf(ctx: RequestContext): string | undefined {
  const p = ctx.principal;
  if (!p) return undefined;
  return p.identity ?? (p.kind === 'mtls' ? p.id : undefined);
}

export default definePlugin({
  name: 'rate-limit-descriptors',
  description: 'Publishes the caller and model to Envoy for the global rate limits',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create() {
    return {
      onRequest(ctx) {
        const p = ctx.principal;
        const dims: Record<RateLimitDimension, string | undefined> = {
          key: p?.kind === 'api_key' ? p.id : undefined,
          user: p?.user,
          team: p?.team,
          identity: identityOf(ctx),
          model: ctx.request.model,
        };
        for (const [dimension, value] of Object.entries(dims) as [RateLimitDimension, string | undefined][]) {
          if (value) ctx.rateLimits.setDimension(dimension, value);
        }
      },
    };
  },
});
