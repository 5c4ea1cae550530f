/**
 * OpenTelemetry traces (`tracing:` in gateway.yaml), off by default.
 *
 * On, every request the processor sees gets a SERVER span (a child of the client's W3C
 * `traceparent`, when it sends one) and every upstream attempt a CLIENT span under it, with the
 * GenAI semantic conventions (./tracing-genai.ts). Each attempt's request carries a
 * `traceparent` naming its span, so a provider that traces continues the same trace. Spans are
 * batched and exported over OTLP/HTTP (JSON), and flushed when the processor closes.
 *
 * Off, createTracer returns undefined and the core's hooks are a null check each: the SDK is
 * required (./tracing-otel.ts) only when tracing is on.
 */

import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from '../config/types';
import type { Logger } from './logger';
import type { Tracer, TracingSettings } from './tracing-genai';

export type { HeaderEdit, RequestTrace, TracedAttempt, TracedExchange, Tracer, TracingSettings } from './tracing-genai';

const DEFAULT_ENDPOINT = 'http://localhost:4318';
const DEFAULT_SERVICE_NAME = 'llm-gateway';
const TRACES_PATH = '/v1/traces';

const valueOf = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

/** A base URL gets `/v1/traces` (as OTEL_EXPORTER_OTLP_ENDPOINT does); a URL already ending in it is kept. */
function tracesUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith(TRACES_PATH) ? trimmed : `${trimmed}${TRACES_PATH}`;
}

/**
 * `tracing.endpoint`, else $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL, used as is), else
 * $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318; `tracing.service_name`, else
 * $OTEL_SERVICE_NAME, else llm-gateway. A value written in gateway.yaml wins over the variables.
 */
export function tracingSettings(config: TracingConfig, env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const tracesEndpoint = valueOf(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const url = config.endpoint
    ? tracesUrl(config.endpoint)
    : (tracesEndpoint ?? tracesUrl(valueOf(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_ENDPOINT));
  return {
    url,
    serviceName: config.service_name ?? valueOf(env, 'OTEL_SERVICE_NAME') ?? DEFAULT_SERVICE_NAME,
    sampleRatio: config.sample_ratio,
    captureContent: config.capture_content,
    contentMaxBytes: config.content_max_bytes,
  };
}

export interface TracerOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces the batched OTLP export (tests: a SimpleSpanProcessor over an InMemorySpanExporter). */
  spanProcessor?: SpanProcessor;
}

/**
 * The tracer `tracing` asks for, or undefined when it is off (or $OTEL_SDK_DISABLED is true, as
 * the OpenTelemetry specification has it).
 */
export function createTracer(config: TracingConfig, log: Logger, opts: TracerOptions = {}): Tracer | undefined {
  const env = opts.env ?? process.env;
  if (!config.enabled) return undefined;
  if (valueOf(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    log.info('tracing is enabled in the configuration but OTEL_SDK_DISABLED=true: no spans are recorded');
    return undefined;
  }
  const settings = tracingSettings(config, env);
  // Loaded here, not imported: with tracing off the SDK never enters the process.
  const { OtelTracer } = require('./tracing-otel') as typeof import('./tracing-otel');
  const tracer = new OtelTracer(settings, log, opts.spanProcessor);
  log.info(
    { endpoint: opts.spanProcessor ? undefined : settings.url, service_name: settings.serviceName, sample_ratio: settings.sampleRatio, capture_content: settings.captureContent },
    'tracing enabled',
  );
  return tracer;
}
