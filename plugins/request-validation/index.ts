import { definePlugin, GatewayError } from '../../src';
import { RequestValidator } from './validator';

/**
 * Validates the bodies of the OpenAI endpoints (chat completions, completions, embeddings,
 * responses) against OpenAI's request schema before any other plugin acts on them: wrong types,
 * missing fields, unknown roles, malformed tools, out-of-range sampling parameters and absurd
 * nesting get a 400 whose `param` names the field (`messages[0].role`, `tools[1].function.name`).
 * Valid requests, vendor fields included, pass through exactly as sent. Put it first in
 * `plugins:` so that routing, quotas and translation only ever see well-formed bodies.
 */

interface Options {
  max_depth: number;
  max_messages: number;
  extra_content_part_types: string[];
}

/** Part types OpenAI defines: listing them again as "extra" would make the union ambiguous. */
const OPENAI_PART_TYPES = new Set(['text', 'refusal', 'image_url', 'input_audio', 'file']);

export default definePlugin<Options>({
  name: 'request-validation',
  description: 'Validates OpenAI request bodies (400 naming the field) before anything else acts on them',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      max_depth: { type: 'integer', minimum: 8, maximum: 1000, default: 64 },
      max_messages: { type: 'integer', minimum: 1, default: 10000 },
      extra_content_part_types: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, default: [] },
    },
  },
  create(options, host) {
    const validator = new RequestValidator({
      maxDepth: options.max_depth,
      maxMessages: options.max_messages,
      extraContentPartTypes: options.extra_content_part_types.filter((t) => !OPENAI_PART_TYPES.has(t)),
    });
    const refused = host.metrics.counter(
      'gateway_request_validation_failures_total',
      'Requests refused by request validation, by endpoint and error code',
      ['endpoint', 'code'],
    );
    return {
      // Synchronous on purpose: no promise or timer per request.
      onRequest(ctx) {
        const { body, endpoint } = ctx.request;
        if (!body) return;
        const problem = validator.validate(endpoint, body);
        if (!problem) return;
        refused.inc({ endpoint, code: problem.code });
        // The field, never its value: request content stays out of logs.
        ctx.log.debug({ param: problem.param, code: problem.code }, 'request refused by validation');
        throw new GatewayError(400, problem.code, problem.message, { param: problem.param });
      },
    };
  },
});
