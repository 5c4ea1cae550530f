import { definePlugin, GatewayError, type RequestContext } from '../../src';

/**
 * The LangChain endpoint: `/v1/langchain/*` serves the OpenAI API to
 * `ChatOpenAI(base_url=".../v1/langchain", api_key="langchain-...")` and accepts only keys of
 * the `langchain` tier. Langchain-tier keys also work on the standard paths and are still
 * tracked as langchain usage. Counts langchain traffic in its own Prometheus metrics.
 */

const PREFIX = '/v1/langchain';

export const isLangchain = (ctx: RequestContext): boolean => ctx.request.prefix === PREFIX || ctx.principal?.tier === 'langchain';

export default definePlugin<{ max_model_labels: number }>({
  name: 'langchain',
  description: 'LangChain endpoint: tier check and metrics',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { max_model_labels: { type: 'integer', minimum: 1, default: 200 } },
  },
  create(options, host) {
    const requests = host.metrics.counter('langchain_requests_total', 'Requests from LangChain clients (langchain path or langchain-tier key), by model and status', ['model', 'status']);
    const duration = host.metrics.histogram(
      'langchain_request_duration_seconds',
      'Duration of LangChain requests, by model',
      ['model'],
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    );
    const models = new Set<string>();
    const modelLabel = (m: string | undefined) => {
      if (!m) return 'none';
      if (models.has(m)) return m;
      if (models.size >= options.max_model_labels) return 'other';
      models.add(m);
      return m;
    };
    return {
      onRequestHeaders(ctx) {
        if (ctx.request.prefix !== PREFIX || !ctx.principal) return;
        if (ctx.principal.tier !== 'langchain') {
          throw new GatewayError(403, 'invalid_key_tier', 'The LangChain endpoint accepts only LangChain keys (they start with "langchain-").');
        }
      },
      onComplete(ctx) {
        if (!isLangchain(ctx)) return;
        const model = modelLabel(ctx.target?.model ?? undefined);
        requests.inc({ model, status: String(ctx.finalStatus ?? 0) });
        if (ctx.durationMs !== undefined) duration.observe({ model }, ctx.durationMs / 1000);
      },
    };
  },
});
