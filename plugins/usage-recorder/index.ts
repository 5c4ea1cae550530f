import { CACHED_ANSWER_METADATA, definePlugin, type CachedAnswer, type RequestContext } from '../../src';

/**
 * Records one usage record per request (tokens, cost, timing, who and what) through the
 * gateway's batched writer. For streams it asks the provider for the exact token counts
 * (`stream_options.include_usage`) even when the client did not, and then hides that extra
 * usage chunk from the client, so billing never rests on an estimate.
 *
 * A request the response cache answered (its CachedAnswer in ctx.metadata) is recorded once,
 * flagged `cached`, with the cached answer's tokens and the cache's cost: nothing went upstream,
 * so the core has neither usage nor cost for it.
 */

const STREAM_USAGE_ENDPOINTS = new Set(['chat.completions', 'completions']);

export default definePlugin({
  name: 'usage-recorder',
  description: 'Per-request usage records and exact streamed token counts',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  create(_options, host) {
    /** Streams where the gateway, not the client, asked for the usage chunk. */
    const hideUsageChunk = new WeakSet<RequestContext>();
    return {
      onRequest(ctx) {
        const body = ctx.request.body;
        if (!body || !ctx.request.stream || !STREAM_USAGE_ENDPOINTS.has(ctx.request.endpoint)) return;
        const so = body.stream_options;
        if (so && typeof so === 'object' && !Array.isArray(so) && so.include_usage === true) return;
        hideUsageChunk.add(ctx);
        ctx.setRequestBody({ ...body, stream_options: { ...(so && typeof so === 'object' && !Array.isArray(so) ? so : {}), include_usage: true } });
      },

      onResponseChunk(ctx, event) {
        if (!hideUsageChunk.has(ctx) || !event.data.includes('"usage"')) return;
        const chunk = event.json as { choices?: unknown[]; usage?: unknown } | undefined;
        // The usage-only chunk has an empty choices array; the core has already read its usage.
        if (chunk && Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) event.drop();
      },

      onComplete(ctx) {
        const p = ctx.principal;
        // Only an answer the client actually got from the cache (a 200 reply by the gateway).
        const hit = ctx.outcome === 'responded' && ctx.finalStatus === 200 ? (ctx.metadata.get(CACHED_ANSWER_METADATA) as CachedAnswer | undefined) : undefined;
        const u = hit ? hit.usage : ctx.usage;
        const langchain = ctx.request.prefix === '/v1/langchain' || p?.tier === 'langchain';
        host.usage.record({
          id: ctx.id,
          requestId: ctx.requestId,
          time: ctx.receivedAt,
          keyId: p?.id ?? null,
          user: p?.user ?? null,
          team: p?.team ?? null,
          tier: p?.tier ?? null,
          endpoint: langchain ? 'langchain' : 'standard',
          api: ctx.request.api,
          provider: ctx.target?.provider ?? null,
          modelRequested: ctx.request.model ?? null,
          modelServed: (hit ? hit.model : ctx.servedModel) ?? ctx.target?.model ?? null,
          promptTokens: u?.promptTokens ?? 0,
          completionTokens: u?.completionTokens ?? 0,
          cachedTokens: u?.cachedTokens ?? 0,
          reasoningTokens: u?.reasoningTokens ?? 0,
          totalTokens: u?.totalTokens ?? 0,
          costUsd: (hit ? hit.costUsd : ctx.costUsd) ?? 0,
          durationMs: ctx.durationMs ?? 0,
          ttftMs: ctx.timeToFirstByteMs === undefined ? null : Math.round(ctx.timeToFirstByteMs * 100) / 100,
          status: ctx.finalStatus ?? 0,
          streamed: hit ? hit.streamed : (ctx.response?.streamed ?? false),
          outcome: ctx.outcome ?? null,
          ...(hit ? { cached: true } : {}),
        });
      },
    };
  },
});
