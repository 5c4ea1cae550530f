/**
 * The OpenTelemetry SDK behind ./tracing.ts, required by createTracer only when tracing is on.
 *
 * Spans are made with an explicit parent context (no global tracer provider, propagator or
 * context manager is registered: nothing else in the process is affected). Times are the
 * exchange's own performance.now() readings, so spans line up with the request log's durations.
 */

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer as ApiTracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { ExchangeOutcome, HeaderView, StreamEvent } from '../domain';
import { PROJECT_ROOT } from '../paths';
import type { Logger } from './logger';
import {
  completionText,
  CONTENT_EVENTS,
  GATEWAY,
  GENAI,
  operationName,
  promptText,
  providerName,
  requestParameters,
  serverFailed,
  StreamedText,
  truncateUtf8,
  type HeaderEdit,
  type RequestTrace,
  type TracedAttempt,
  type TracedExchange,
  type Tracer,
  type TracingSettings,
} from './tracing-genai';

const SCOPE = 'llm-gateway';
/** Added by Envoy to responses: every attempt it made, its own same-provider retries included. */
const ENVOY_ATTEMPT_COUNT = 'x-envoy-attempt-count';
/** At most one warning about failed exports per this many milliseconds. */
const EXPORT_WARNING_INTERVAL_MS = 60_000;

const HEADERS: TextMapGetter<HeaderView> = {
  keys: (carrier) => [...carrier.entries()].map(([k]) => k),
  get: (carrier, key) => carrier.get(key),
};

function packageVersion(): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The OTLP exporter, logging (at most once a minute) when the collector cannot be reached. */
class WarningExporter implements SpanExporter {
  private lastWarning = 0;
  private dropped = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.dropped += spans.length;
        const now = Date.now();
        if (now - this.lastWarning >= EXPORT_WARNING_INTERVAL_MS) {
          this.lastWarning = now;
          this.log.warn({ endpoint: this.url, dropped_spans: this.dropped, err: { message: result.error?.message } }, 'trace export failed');
          this.dropped = 0;
        }
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export class OtelTracer implements Tracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: ApiTracer;
  private readonly propagator = new W3CTraceContextPropagator();
  /** Each started request's trace, for its upstream attempts (prepared elsewhere, from its context). */
  private readonly traces = new WeakMap<TracedExchange, OtelRequestTrace>();

  constructor(
    readonly settings: TracingSettings,
    log: Logger,
    spanProcessor?: SpanProcessor,
  ) {
    const version = packageVersion();
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, ...(version ? { [ATTR_SERVICE_VERSION]: version } : {}) }));
    const processor = spanProcessor ?? new BatchSpanProcessor(new WarningExporter(new OTLPTraceExporter({ url: settings.url }), settings.url, log));
    this.provider = new BasicTracerProvider({
      resource,
      // A client's sampled flag is followed; new traces are kept at sample_ratio.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer(SCOPE, version);
  }

  startRequest(exchange: TracedExchange): RequestTrace {
    const { request } = exchange;
    const parent = this.propagator.extract(ROOT_CONTEXT, request.headers, HEADERS);
    // Named once the model is known (end); the method until then.
    const span = this.tracer.startSpan(request.method, { kind: SpanKind.SERVER, startTime: exchange.startTime }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        [GATEWAY.exchangeId]: exchange.id,
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        [ATTR_URL_PATH]: request.path,
        [GATEWAY.endpoint]: request.endpoint,
      });
    }
    const t = new OtelRequestTrace(this, span, exchange.startTime);
    this.traces.set(exchange, t);
    return t;
  }

  startAttempt(exchange: TracedExchange, attempt: TracedAttempt): readonly HeaderEdit[] | undefined {
    return this.traces.get(exchange)?.startAttempt(exchange, attempt);
  }

  /** A span's W3C trace context as the headers a provider gets (tracestate removed when there is none). */
  headersFor(span: Span): readonly HeaderEdit[] {
    const carrier: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    const parent = carrier.traceparent;
    if (!parent) return [];
    return [
      ['traceparent', parent],
      ['tracestate', carrier.tracestate ?? null],
    ];
  }

  startSpan(name: string, kind: SpanKind, startTime: number, parent: Context): Span {
    return this.tracer.startSpan(name, { kind, startTime }, parent);
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

interface AttemptSpan {
  span: Span;
  number: number;
  startedAt: number;
}

class OtelRequestTrace implements RequestTrace {
  readonly wantsStreamEvents: boolean;
  private readonly context: Context;
  private attempt: AttemptSpan | undefined;
  private attempts = 0;
  private readonly streamed: StreamedText | undefined;

  constructor(
    private readonly owner: OtelTracer,
    private readonly span: Span,
    private readonly startTime: number,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
    const { captureContent, contentMaxBytes } = owner.settings;
    this.wantsStreamEvents = captureContent && span.isRecording();
    if (this.wantsStreamEvents) this.streamed = new StreamedText(contentMaxBytes);
  }

  startAttempt(exchange: TracedExchange, a: TracedAttempt): readonly HeaderEdit[] {
    const now = performance.now();
    const previous = this.attempt;
    if (previous) {
      // Envoy went on to another attempt (a retry or a fallback): this one failed.
      if (previous.span.isRecording()) {
        previous.span.setAttribute(ATTR_ERROR_TYPE, 'superseded');
        previous.span.setStatus({ code: SpanStatusCode.ERROR, message: `followed by attempt ${a.number} (retry or fallback)` });
      }
      previous.span.end(now);
    }
    const op = operationName(exchange.request.endpoint);
    const span = this.owner.startSpan(op ? `${op} ${a.target.model}` : exchange.request.method, SpanKind.CLIENT, now, this.context);
    if (span.isRecording()) {
      const attributes: Attributes = {
        [GENAI.provider]: providerName(a.target.type),
        [GENAI.requestModel]: a.target.model,
        [GATEWAY.provider]: a.target.provider,
        [GATEWAY.attempt]: a.number,
        [GATEWAY.exchangeId]: exchange.id,
        [ATTR_SERVER_ADDRESS]: a.server.hostname,
        [ATTR_SERVER_PORT]: Number(a.server.port) || (a.server.protocol === 'https:' ? 443 : 80),
      };
      if (op) attributes[GENAI.operation] = op;
      span.setAttributes(attributes);
    }
    this.attempt = { span, number: a.number, startedAt: now };
    this.attempts++;
    return this.owner.headersFor(span);
  }

  streamEvent(event: StreamEvent): void {
    this.streamed?.push(event.json);
  }

  end(exchange: TracedExchange, outcome: ExchangeOutcome, status: number): void {
    const now = performance.now();
    const { request, response, target } = exchange;
    const op = operationName(request.endpoint);
    const span = this.span;
    const attempt = this.attempt;
    this.attempt = undefined;
    const recording = span.isRecording();
    if (recording) {
      span.updateName(op ? (request.model ? `${op} ${request.model}` : op) : request.method);
      const attributes: Attributes = { [GATEWAY.outcome]: outcome };
      if (status > 0) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
      if (op) {
        attributes[GENAI.operation] = op;
        if (request.model !== undefined) attributes[GENAI.requestModel] = request.model;
        attributes[GENAI.requestStream] = request.stream;
        Object.assign(attributes, requestParameters(request.body));
      }
      if (target) {
        attributes[GENAI.provider] = providerName(target.type);
        attributes[GATEWAY.provider] = target.provider;
      }
      const envoyAttempts = Number(response?.headers.get(ENVOY_ATTEMPT_COUNT) ?? 0) || 0;
      const attempts = Math.max(this.attempts, envoyAttempts);
      if (attempts > 0) attributes[GATEWAY.attempts] = attempts;
      Object.assign(attributes, responseAttributes(exchange, this.startTime));
      if (status >= 400) attributes[ATTR_ERROR_TYPE] = String(status);
      else if (outcome === 'failed' || outcome === 'interrupted') attributes[ATTR_ERROR_TYPE] = outcome;
      span.setAttributes(attributes);
      if (serverFailed(outcome, status)) span.setStatus({ code: SpanStatusCode.ERROR, message: status >= 500 ? `HTTP ${status}` : outcome });
      if (this.owner.settings.captureContent) this.captureContent(exchange, now);
    }
    if (attempt) this.endAttempt(attempt, exchange, outcome, now);
    span.end(now);
  }

  /** The last attempt: the one whose response the client got (or was getting). */
  private endAttempt(attempt: AttemptSpan, exchange: TracedExchange, outcome: ExchangeOutcome, now: number): void {
    const { span } = attempt;
    if (span.isRecording()) {
      const upstream = exchange.response?.status;
      const attributes: Attributes = responseAttributes(exchange, attempt.startedAt);
      if (upstream !== undefined && upstream > 0) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = upstream;
      if (upstream !== undefined && upstream >= 400) {
        attributes[ATTR_ERROR_TYPE] = String(upstream);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${upstream}` });
      } else if (upstream === undefined || outcome === 'failed' || outcome === 'interrupted' || outcome === 'cancelled') {
        // No response, or it was cut short: the client left, a shutdown, a broken stream.
        attributes[ATTR_ERROR_TYPE] = outcome;
        span.setStatus({ code: SpanStatusCode.ERROR, message: upstream === undefined ? `no response (${outcome})` : outcome });
      }
      span.setAttributes(attributes);
    }
    span.end(now);
  }

  private captureContent(exchange: TracedExchange, now: number): void {
    const { request, response } = exchange;
    const max = this.owner.settings.contentMaxBytes;
    const prompt = promptText(request.endpoint, request.body);
    if (prompt !== undefined) {
      const cut = truncateUtf8(prompt, max);
      this.span.addEvent(CONTENT_EVENTS.prompt, { [GENAI.prompt]: cut.text, ...(cut.truncated ? { [GATEWAY.contentTruncated]: true } : {}) }, this.startTime);
    }
    if (!response || response.status >= 400) return;
    const streamed = response.streamed ? this.streamed : undefined;
    const completion = response.streamed ? streamed?.text : completionText(request.endpoint, response.body);
    if (completion === undefined) return;
    const cut = truncateUtf8(completion, max);
    const truncated = cut.truncated || Boolean(streamed?.truncated);
    this.span.addEvent(CONTENT_EVENTS.completion, { [GENAI.completion]: cut.text, ...(truncated ? { [GATEWAY.contentTruncated]: true } : {}) }, now);
  }
}

/** What a span gets from the response: served model, tokens, and time to the first chunk of a stream. */
function responseAttributes(exchange: TracedExchange, since: number): Attributes {
  const out: Attributes = {};
  const { usage, servedModel, response, firstByteAt } = exchange;
  if (servedModel !== undefined) out[GENAI.responseModel] = servedModel;
  if (usage) {
    out[GENAI.inputTokens] = usage.promptTokens;
    out[GENAI.outputTokens] = usage.completionTokens;
    if (usage.cachedTokens) out[GENAI.cacheReadTokens] = usage.cachedTokens;
    if (usage.reasoningTokens) out[GENAI.reasoningTokens] = usage.reasoningTokens;
  }
  if (response?.streamed && firstByteAt !== undefined && firstByteAt >= since) {
    out[GENAI.timeToFirstChunk] = Math.round(firstByteAt - since) / 1000;
  }
  return out;
}
