import { definePlugin, GatewayError, respond, type JsonObject, type RequestContext, type StreamEvent, type ToolCall } from '../../src';
import { EMPTY_FILTERS, FilterCache, filterBody, ResponsesStreamFilter, StreamFilter, type CompiledFilters, type CompiledRule, type RuleFinding, type StreamLimits } from './engine';

/**
 * Content filtering with the rule sets of the security settings (`security.content_filters`,
 * changed at run time through PUT /v1/security/config): requests before they go upstream,
 * buffered responses, and streamed responses event by event with a hold-back window so a match
 * split across SSE events is still caught: chat chunks, and the native events of a Responses
 * stream passed through to OpenAI (`response.output_text.delta` and the events after it). `block` answers 400 `content_filtered` naming the
 * rule (a blocked stream ends with an error event and [DONE]); `redact` masks the match;
 * `flag` logs and counts. Matched text is never logged, audited or echoed.
 */

interface Options {
  window_chars: number;
  max_hold_chars: number;
  max_scan_chars: number;
  max_pattern_length: number;
}

type Direction = 'request' | 'response';

/** Per-request state: the rules in force when the request arrived, and the stream's windows. */
const FILTERS = 'content-filter.filters';
const STREAM = 'content-filter.stream';
const RESPONSES_STREAM = 'content-filter.responses-stream';

export default definePlugin<Options>({
  name: 'content-filter',
  description: 'Blocks, redacts or flags requests and responses by configurable rule sets',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      /** Characters of streamed text held back: at least the longest match that must survive a split. */
      window_chars: { type: 'integer', minimum: 8, maximum: 4096, default: 64 },
      /** Most streamed text held while a match at its end is still growing (a PEM block). */
      max_hold_chars: { type: 'integer', minimum: 256, maximum: 1048576, default: 4096 },
      /** Longest text one detector call scans; longer fields are scanned in overlapping segments. */
      max_scan_chars: { type: 'integer', minimum: 1024, maximum: 10485760, default: 65536 },
      /** Longest `regex` pattern a rule may use. */
      max_pattern_length: { type: 'integer', minimum: 16, maximum: 10000, default: 1000 },
    },
  },
  create(options, host) {
    const limits: StreamLimits = {
      windowChars: options.window_chars,
      maxHoldChars: Math.max(options.max_hold_chars, 2 * options.window_chars),
      maxScanChars: Math.max(options.max_scan_chars, 4 * options.window_chars),
    };
    const cache = new FilterCache({ maxPatternLength: options.max_pattern_length });
    // PUT /v1/security/config (and the configuration at start) refuse rules that do not compile.
    host.security.addValidator((s) => cache.validate(s));
    const matches = host.metrics.counter(
      'gateway_content_filter_matches_total',
      'Content filter matches, by rule, action and direction (request or response)',
      ['rule', 'action', 'direction'],
    );

    const report = (ctx: RequestContext, findings: RuleFinding[], direction: Direction) => {
      if (findings.length === 0) return;
      const flagged = new Map<string, { rule: string; detector: string; matches: number }>();
      for (const f of findings) {
        matches.inc({ rule: f.rule.name, action: f.rule.action, direction });
        if (f.rule.action !== 'flag') continue;
        const key = `${f.rule.name}\u0000${f.label}`;
        const entry = flagged.get(key) ?? { rule: f.rule.name, detector: f.label, matches: 0 };
        entry.matches++;
        flagged.set(key, entry);
      }
      for (const e of flagged.values()) ctx.log.warn({ content_filter: { ...e, action: 'flag', direction } }, 'content filter flagged');
    };

    /** Counts, logs and audits a block; the error names the rule, never what matched. */
    const blocked = (ctx: RequestContext, f: RuleFinding, direction: Direction): GatewayError => {
      matches.inc({ rule: f.rule.name, action: 'block', direction });
      ctx.log.info({ content_filter: { rule: f.rule.name, detector: f.label, action: 'block', direction } }, 'content filter blocked');
      const p = ctx.principal;
      host.audit.record({
        action: 'request.blocked',
        outcome: 'denied',
        target: f.rule.name,
        requestId: ctx.requestId,
        actor: p
          ? {
              ...(p.kind === 'api_key' ? { keyId: p.id } : { identity: p.id }),
              ...(p.team ? { team: p.team } : {}),
            }
          : undefined,
        // The gateway's own id of the request: the usage record's id; request_id is the client's.
        details: { policy: 'content_filter', rule_set: f.rule.set, detector: f.label, direction, exchange_id: ctx.id },
      });
      const what = direction === 'request' ? 'Your request was' : 'The response was';
      return new GatewayError(400, 'content_filtered', `${what} blocked by the content filter rule \`${f.rule.name}\`.`);
    };

    const pathFailed = (ctx: RequestContext) => (rule: CompiledRule, path: string) =>
      ctx.log.warn({ content_filter: { rule: rule.name, path } }, 'content filter path could not be evaluated');

    const filtersOf = (ctx: RequestContext) => ctx.metadata.get(FILTERS) as CompiledFilters | undefined;

    /**
     * MCP tool calls (`/mcp`): the rules' JSONPath expressions are written for LLM bodies, so
     * tool arguments are scanned whole (every string in them) and results in their text parts
     * and structured content. `block` refuses the call or withholds the result; `redact` masks.
     */
    const toolRules = (rules: readonly CompiledRule[], paths: string[]): CompiledRule[] =>
      rules.map((r) => ({ ...r, requestPaths: paths, responsePaths: paths, mask: (label: string) => r.mask(label) }));
    const filterTool = (call: ToolCall, direction: Direction): JsonObject | undefined => {
      const settings = host.security.current();
      if (!settings.content_filtering_enabled) return undefined;
      const filters = cache.get(settings);
      const rules = direction === 'request' ? filters.request : filters.response;
      const body = direction === 'request' ? call.arguments : call.result;
      if (rules.length === 0 || !body) return undefined;
      const paths = direction === 'request' ? ['$..*'] : ['$.content[*].text', '$.structuredContent..*'];
      const out = filterBody(body, toolRules(rules, paths), direction, limits, (rule, path) => call.log.warn({ content_filter: { rule: rule.name, path } }, 'content filter path could not be evaluated'));
      if (out.blocked) {
        const f = out.blocked;
        matches.inc({ rule: f.rule.name, action: 'block', direction });
        call.log.info({ content_filter: { rule: f.rule.name, detector: f.label, action: 'block', direction, mcp_server: call.server, mcp_tool: call.tool } }, 'content filter blocked');
        const p = call.principal;
        host.audit.record({
          action: 'request.blocked',
          outcome: 'denied',
          target: f.rule.name,
          actor: { ...(p.kind === 'api_key' ? { keyId: p.id } : { identity: p.id }), ...(p.team ? { team: p.team } : {}) },
          details: { policy: 'content_filter', rule_set: f.rule.set, detector: f.label, direction, exchange_id: call.id, mcp_server: call.server, mcp_tool: call.tool },
        });
        const what = direction === 'request' ? 'The tool arguments were' : 'The tool result was';
        throw new GatewayError(400, 'content_filtered', `${what} blocked by the content filter rule \`${f.rule.name}\`.`);
      }
      for (const f of out.findings) matches.inc({ rule: f.rule.name, action: f.rule.action, direction });
      return out.body as JsonObject | undefined;
    };

    /**
     * One event of a native Responses stream: deltas through their part's hold-back window, the
     * `.done` events and the final response set to the text released (held text goes out in a
     * delta inserted before them). A block ends the stream; the core turns the error into the
     * Responses end (`error` + `response.failed`).
     */
    const filterResponsesEvent = (ctx: RequestContext, event: StreamEvent, rules: readonly CompiledRule[]) => {
      let stream = ctx.metadata.get(RESPONSES_STREAM) as ResponsesStreamFilter | undefined;
      if (!stream) {
        stream = new ResponsesStreamFilter(rules, limits);
        ctx.metadata.set(RESPONSES_STREAM, stream);
      }
      const r = stream.event(event.json);
      if (r.blocked) return respond(400, blocked(ctx, r.blocked, 'response').toBody());
      report(ctx, r.findings, 'response');
      for (const e of r.insert) event.insertBefore(e, e.type as string);
      if (r.replace !== undefined) event.replace(r.replace);
      return undefined;
    };

    return {
      onRequest(ctx) {
        // Read per request: a settings change applies from the very next request.
        const settings = host.security.current();
        if (!settings.content_filtering_enabled) return;
        const filters = cache.get(settings);
        if (filters === EMPTY_FILTERS) return;
        // The response is filtered with the rules this request started with.
        ctx.metadata.set(FILTERS, filters);
        const body = ctx.request.body;
        if (!body || filters.request.length === 0) return;
        const out = filterBody(body, filters.request, 'request', limits, pathFailed(ctx));
        if (out.blocked) throw blocked(ctx, out.blocked, 'request');
        report(ctx, out.findings, 'request');
        // The masked copy replaces the body, so the provider never sees the redacted text.
        if (out.body) ctx.setRequestBody(out.body as JsonObject);
      },

      onResponse(ctx) {
        const filters = filtersOf(ctx);
        const res = ctx.response;
        // Streams were filtered event by event; error bodies are the provider's, not model output.
        if (!filters?.response.length || !res || res.streamed || res.status >= 400 || res.body === undefined) return;
        const out = filterBody(res.body, filters.response, 'response', limits, pathFailed(ctx));
        if (out.blocked) {
          const err = blocked(ctx, out.blocked, 'response');
          return respond(400, err.toBody());
        }
        report(ctx, out.findings, 'response');
        if (out.body) ctx.setResponseBody(out.body);
      },

      onToolCall(call) {
        const masked = filterTool(call, 'request');
        if (masked) call.setArguments(masked);
      },

      onToolResult(call) {
        const masked = filterTool(call, 'response');
        if (masked) call.setResult(masked);
      },

      onResponseChunk(ctx, event) {
        const filters = filtersOf(ctx);
        if (!filters?.response.length) return;
        if (!event.data.includes('"choices"') && event.data !== '[DONE]') {
          // A Responses stream passed through natively (plugins see OpenAI's own events).
          if (event.data.includes('"response.')) return filterResponsesEvent(ctx, event, filters.response);
          return;
        }
        let stream = ctx.metadata.get(STREAM) as StreamFilter | undefined;
        if (!stream) {
          stream = new StreamFilter(filters.response, limits);
          ctx.metadata.set(STREAM, stream);
        }
        if (event.data === '[DONE]') {
          // Whatever a choice without a finish_reason still holds goes out before [DONE].
          const r = stream.flush();
          if (r.blocked) return respond(400, blocked(ctx, r.blocked, 'response').toBody());
          report(ctx, r.findings, 'response');
          for (const c of r.chunks) event.insertBefore(c);
          return;
        }
        const r = stream.chunk(event.json);
        // The core ends the stream with this error as an event, then [DONE].
        if (r.blocked) return respond(400, blocked(ctx, r.blocked, 'response').toBody());
        report(ctx, r.findings, 'response');
        if (r.replace !== undefined) event.replace(r.replace);
      },
    };
  },
});
