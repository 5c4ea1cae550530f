import { GatewayError } from '../../src/errors';
import { definePlugin } from '../../src/plugins/types';

/**
 * Picks the provider from the requested model: `provider/model` ids first, then each
 * provider's `models` patterns in configuration order. Enforces a principal's allowed models.
 */

const matches = (patterns: string[], model: string): boolean =>
  patterns.some((p) => p === model || (p.endsWith('*') && model.startsWith(p.slice(0, -1))));

export default definePlugin({
  name: 'model-router',
  description: 'Routes requests to a provider by model name',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create(_options, host) {
    return {
      onRequest(ctx) {
        const model = ctx.request.model;
        if (ctx.target || !model) return;
        const allowed = ctx.principal?.allowedModels;
        if (allowed && allowed.length && !matches(allowed, model)) {
          throw new GatewayError(403, 'model_not_allowed', `This key is not allowed to use the model \`${model}\`.`, { param: 'model' });
        }
        const target = host.providers.resolve(model);
        if (!target) {
          throw new GatewayError(404, 'model_not_found', `The model \`${model}\` does not exist or you do not have access to it.`, {
            param: 'model',
          });
        }
        ctx.target = target;
      },
    };
  },
});
