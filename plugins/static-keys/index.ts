import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../src/errors';
import { definePlugin, type Principal, type RequestContext } from '../../src/plugins/types';

/**
 * Authenticates callers against a fixed list of API keys from the configuration. Keys may be
 * given in clear (development) or as `sha256` hex digests; either way only digests are kept in
 * memory and compared in constant time. Accepts `Authorization: Bearer`, `X-API-Key` and
 * `api-key`, the headers the OpenAI and Azure SDKs send.
 */

interface KeyEntry {
  key?: string;
  sha256?: string;
  id: string;
  user?: string;
  team?: string;
  tier?: string;
  allowed_models?: string[];
}

interface Options {
  keys: KeyEntry[];
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function presentedKey(ctx: RequestContext): string | undefined {
  const auth = ctx.request.headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return m ? m[1].trim() : undefined;
  }
  return ctx.request.headers.get('x-api-key')?.trim() || ctx.request.headers.get('api-key')?.trim() || undefined;
}

export default definePlugin<Options>({
  name: 'static-keys',
  description: 'API keys listed in the configuration',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['keys'],
    properties: {
      keys: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['id'],
          oneOf: [{ required: ['key'] }, { required: ['sha256'] }],
          properties: {
            key: { type: 'string', minLength: 8 },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            id: { type: 'string', minLength: 1 },
            user: { type: 'string' },
            team: { type: 'string' },
            tier: { type: 'string' },
            allowed_models: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
  create(options) {
    const table = options.keys.map((k) => ({
      hash: k.sha256 ? Buffer.from(k.sha256, 'hex') : digest(k.key!),
      principal: {
        id: k.id,
        kind: 'api_key',
        user: k.user,
        team: k.team,
        tier: k.tier,
        allowedModels: k.allowed_models,
      } satisfies Principal,
    }));
    const lookup = (presented: string): Principal | undefined => {
      const h = digest(presented);
      let found: Principal | undefined;
      // Visit every entry so the time taken does not depend on which key matched.
      for (const e of table) if (timingSafeEqual(e.hash, h)) found = e.principal;
      return found;
    };
    return {
      onRequestHeaders(ctx) {
        if (ctx.principal) return;
        const key = presentedKey(ctx);
        if (!key) {
          throw new GatewayError(
            401,
            'missing_api_key',
            "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY).",
          );
        }
        const principal = lookup(key);
        if (!principal) throw new GatewayError(401, 'invalid_api_key', 'Incorrect API key provided.');
        ctx.principal = principal;
      },
    };
  },
});
