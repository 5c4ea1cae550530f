import { allowsModel, allowsProvider, definePlugin, GatewayError, respond, type ModelEntry, type Principal } from '../../src';

/**
 * Picks the provider for the requested model (model mappings with weighted deployments,
 * `provider/model` or `provider.model`, then the providers' model patterns) and answers
 * `GET /v1/models` (the listable models) and `GET /v1/models/{id}` (any id chat would route)
 * with what the caller may use; for the earlier .NET gateway's clients (the `dotnet` surface)
 * also `GET /api/v1/models/provider/{name}`: one provider's models, its name matched
 * case-insensitively (`OpenAI` is `openai`), an unknown provider a 404. The core adds the .NET
 * fields to these lists (src/surfaces/dotnet). The caller's allowed models and
 * providers are enforced by the core, for whatever target a plugin chooses.
 */

const allowed = (p: Principal | undefined, m: ModelEntry): boolean => allowsModel(p, m.id) && allowsProvider(p, m.provider);

const modelObject = (m: ModelEntry) => ({
  id: m.id,
  object: 'model',
  created: 0,
  owned_by: m.provider,
  provider: m.provider,
  ...(m.displayName ? { display_name: m.displayName } : {}),
  ...(m.contextWindow ? { context_window: m.contextWindow } : {}),
});

/** A malformed escape (`%E0%A4%A`) is an unknown model, not a plugin failure. */
function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The `dotnet` surface's provider listing: `/models/provider/{name}`. */
const BY_PROVIDER = /^\/models\/provider\/([^/]+)$/;

const notFound = (model: string) =>
  new GatewayError(404, 'model_not_found', `The model \`${model}\` does not exist or you do not have access to it.`, { param: 'model' });

export default definePlugin({
  name: 'model-router',
  description: 'Routes requests to a provider by model name and serves /v1/models',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create(_options, host) {
    /**
     * `GET /v1/models/{id}` knows every id chat routes, by the same resolution (mappings,
     * `provider/model`, `provider.model`, patterns): a listed id as listed, another with the
     * provider chat would send it to. Unknown ids are undefined.
     */
    const describe = (id: string): ModelEntry | undefined => {
      const target = host.providers.resolve(id);
      if (!target) return undefined;
      return host.providers.models().find((m) => m.id === id) ?? { id, provider: target.provider };
    };
    return {
      onRequest(ctx) {
        const { request } = ctx;
        if (request.endpoint === 'models') {
          if (request.method !== 'GET') throw new GatewayError(405, 'method_not_allowed', `${request.method} is not allowed on ${request.path}.`);
          // `/models/x/` is `/models/x`, as the core reads every path.
          const rest = request.path.slice(request.prefix.length).replace(/\/+$/, '');
          const byProvider = request.surface === 'dotnet' ? BY_PROVIDER.exec(rest)?.[1] : undefined;
          if (byProvider !== undefined) {
            const wanted = safeDecode(byProvider);
            // A provider the caller may not use is as unknown to it as one that does not exist.
            const usable = host.providers.list().filter((p) => allowsProvider(ctx.principal, p.name));
            const provider = usable.find((p) => p.name === wanted) ?? usable.find((p) => p.name.toLowerCase() === wanted?.toLowerCase());
            if (!provider) {
              throw new GatewayError(404, 'provider_not_found', `The provider \`${wanted ?? byProvider}\` does not exist or you do not have access to it.`, { param: 'provider' });
            }
            const models = host.providers.models().filter((m) => m.provider === provider.name && allowed(ctx.principal, m));
            return respond(200, { object: 'list', data: models.map(modelObject) });
          }
          const id = /^\/models\/(.+)$/.exec(rest)?.[1];
          if (id !== undefined) {
            const wanted = safeDecode(id);
            const model = wanted === undefined ? undefined : describe(wanted);
            if (!model || !allowed(ctx.principal, model)) throw notFound(wanted ?? id);
            return respond(200, modelObject(model));
          }
          const provider = new URLSearchParams(request.query).get('provider');
          const visible = host.providers.models().filter((m) => allowed(ctx.principal, m));
          return respond(200, { object: 'list', data: visible.filter((m) => !provider || m.provider === provider).map(modelObject) });
        }

        const model = request.model;
        if (ctx.target || !model) return;
        const target = host.providers.resolve(model);
        if (!target) throw notFound(model);
        ctx.target = target;
      },
    };
  },
});
