'use strict';

/**
 * request-tagger: an example gateway plugin in plain CommonJS JavaScript, loadable without a
 * build step. It
 *   - rejects requests for blocked models with a 403 (a short-circuit reply),
 *   - tags every forwarded request with a header the provider receives,
 *   - adds the same tag to the response the client receives,
 *   - logs the tokens each request used, and a per-model total on shutdown.
 *
 * Configure it in gateway.yaml (the path is relative to that file, or absolute):
 *
 *   plugins:
 *     - use: virtual-keys
 *     - use: ./examples/plugins/request-tagger.js
 *       options:
 *         tag: team-blue
 *         blocked_models: [gpt-4o, o1*]
 *     - use: model-router
 *
 * It needs nothing from the gateway package: a plugin is any module exporting an object with
 * `name` and `create`, and a short-circuit is a plain `{ kind: 'respond', status, body }`.
 * (TypeScript plugins get the same shapes, typed, from `import { definePlugin, respond }
 * from 'llm-gateway'`; see docs/plugins.md.)
 */

/** `gpt-4o` matches itself only; `o1*` matches every model id starting with `o1`. */
function matcher(patterns) {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (model) => exact.has(model) || prefixes.some((p) => model.startsWith(p));
}

module.exports = {
  name: 'request-tagger',
  version: '1.0.0',
  description: 'Tags requests and responses, blocks listed models, logs token usage',

  // JSON Schema for `options`. The gateway validates the options against it at startup (a bad
  // value stops startup with a message naming the key) and fills in the defaults, so create()
  // can rely on every property below being present and well-typed.
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['tag'],
    properties: {
      tag: { type: 'string', minLength: 1, maxLength: 128 },
      header: { type: 'string', pattern: '^[a-z0-9-]+$', default: 'x-request-tag' },
      response_header: { type: 'string', pattern: '^[a-z0-9-]+$', default: 'x-gateway-tag' },
      blocked_models: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    },
  },

  // Called once at startup with the validated options. Do the expensive work here (compile
  // patterns, open connections), not per request. Returns the hooks; any may be left out.
  create(options, host) {
    const isBlocked = matcher(options.blocked_models);
    /** model → { requests, prompt, completion }, for the summary logged on shutdown. */
    const totals = new Map();
    host.log.info({ tag: options.tag, blocked: options.blocked_models }, 'request-tagger ready');

    return {
      // The JSON body is parsed by now: ctx.request.model is known. Synchronous on purpose:
      // a hook that returns no promise adds no promise or timer to the request path.
      onRequest(ctx) {
        const model = ctx.request.model;
        if (model !== undefined && isBlocked(model)) {
          // Answer the client directly; nothing goes upstream and later plugins do not run.
          // The body follows the OpenAI error shape so SDKs surface the message.
          return {
            kind: 'respond',
            status: 403,
            body: {
              error: {
                message: `The model \`${model}\` is blocked by this gateway.`,
                type: 'permission_error',
                param: 'model',
                code: 'model_blocked',
              },
            },
          };
        }
        // Sent to the provider with the forwarded request (the client's own headers are
        // unaffected; ctx.request.headers keeps showing what the client sent).
        ctx.setRequestHeader(options.header, options.tag);
        // Visible to plugins that run later for this request.
        ctx.metadata.set('request-tagger.tag', options.tag);
      },

      // Runs when the provider's response headers arrive, for buffered and streamed responses
      // alike: the one place a response header edit always reaches the client.
      onResponseHeaders(ctx) {
        ctx.setResponseHeader(options.response_header, options.tag);
      },

      // Runs after the client has its answer, whatever the outcome (also after a 403 above).
      // It cannot change the response and its errors are only logged, so it is the place for
      // accounting. ctx.usage is set when the provider reported usage (streams: only if the
      // client asked for it with stream_options.include_usage).
      onComplete(ctx) {
        const usage = ctx.usage;
        if (!usage) return;
        const model = (ctx.target && ctx.target.model) || ctx.request.model || 'unknown';
        const t = totals.get(model) || { requests: 0, prompt: 0, completion: 0 };
        t.requests += 1;
        t.prompt += usage.promptTokens;
        t.completion += usage.completionTokens;
        totals.set(model, t);
        ctx.log.info(
          {
            plugin: 'request-tagger',
            tag: options.tag,
            principal: ctx.principal && ctx.principal.id,
            provider: ctx.target && ctx.target.provider,
            model,
            prompt_tokens: usage.promptTokens,
            completion_tokens: usage.completionTokens,
            total_tokens: usage.totalTokens,
          },
          'tokens used',
        );
      },

      // Called once on shutdown.
      close() {
        host.log.info({ tag: options.tag, totals: Object.fromEntries(totals) }, 'request-tagger token totals');
      },
    };
  },
};
