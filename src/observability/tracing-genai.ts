/**
 * What the tracer sees of a request, and the OpenTelemetry GenAI semantic conventions it maps
 * that to: attribute names, operation and provider names, and the prompt and completion text
 * captured with `tracing.capture_content`. No OpenTelemetry package is imported here (the SDK is
 * loaded only when tracing is on, by ./tracing-otel.ts).
 *
 * The GenAI attributes are still experimental, so their names are written out here rather than
 * imported from `@opentelemetry/semantic-conventions/incubating`, as that package advises.
 */

import type { Endpoint, ExchangeOutcome, HeaderView, JsonObject, JsonValue, ProviderTarget, StreamEvent, TokenUsage } from '../domain';

/** The parts of an exchange the tracer reads: src/core/context.ts's ExchangeContext, structurally. */
export interface TracedExchange {
  /** The gateway's own id of the request (never a client's value). */
  readonly id: string;
  /** When the request reached the processor (performance.now()). */
  readonly startTime: number;
  readonly request: {
    readonly method: string;
    readonly path: string;
    readonly endpoint: Endpoint;
    readonly headers: HeaderView;
    readonly model: string | undefined;
    readonly stream: boolean;
    readonly body: JsonObject | undefined;
  };
  readonly target: ProviderTarget | undefined;
  readonly usage: TokenUsage | undefined;
  readonly servedModel: string | undefined;
  /** When the first response body byte arrived (performance.now()). */
  readonly firstByteAt: number | undefined;
  readonly response:
    | { readonly status: number; readonly streamed: boolean; readonly headers: HeaderView; readonly body: JsonValue | undefined }
    | undefined;
}

/** The settings a tracer runs with: the configuration over the standard OTEL_* variables. */
export interface TracingSettings {
  /** Where spans are POSTed (the OTLP/HTTP traces URL). */
  url: string;
  serviceName: string;
  sampleRatio: number;
  captureContent: boolean;
  contentMaxBytes: number;
}

/** One upstream attempt, as src/core/upstream-attempt.ts prepares it. */
export interface TracedAttempt {
  /** 1 for the first attempt, 2 for the first retry or fallback, ... */
  readonly number: number;
  readonly target: ProviderTarget;
  /** The provider's base URL (server.address, server.port). */
  readonly server: URL;
}

/** A request header to set (or, with null, remove) on the upstream request. */
export type HeaderEdit = readonly [name: string, value: string | null];

/** Made by createTracer (./tracing.ts) when `tracing.enabled`; absent otherwise. */
export interface Tracer {
  /** The request's SERVER span, a child of the client's `traceparent` when it sent one. */
  startRequest(exchange: TracedExchange): RequestTrace;
  /**
   * An upstream attempt of a started request begins: its CLIENT span (ending the previous
   * attempt's). Returns the W3C trace context headers the provider gets, naming this span.
   */
  startAttempt(exchange: TracedExchange, attempt: TracedAttempt): readonly HeaderEdit[] | undefined;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

export interface RequestTrace {
  /** Whether streamEvent wants the response's events (content capture on a recorded span). */
  readonly wantsStreamEvents: boolean;
  /** One event of a streamed response, as the client gets it (OpenAI shape). */
  streamEvent(event: StreamEvent): void;
  /** The exchange finished: attributes from what it ended with, and the spans end. */
  end(exchange: TracedExchange, outcome: ExchangeOutcome, status: number): void;
}

/** GenAI semantic convention attributes (experimental: written out, see above). */
export const GENAI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  responseModel: 'gen_ai.response.model',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  prompt: 'gen_ai.prompt',
  completion: 'gen_ai.completion',
} as const;

/** Span events carrying captured content (only with `tracing.capture_content`). */
export const CONTENT_EVENTS = { prompt: 'gen_ai.content.prompt', completion: 'gen_ai.content.completion' } as const;

/** The gateway's own attributes. */
export const GATEWAY = {
  exchangeId: 'gateway.exchange_id',
  outcome: 'gateway.outcome',
  endpoint: 'gateway.endpoint',
  provider: 'gateway.provider',
  attempt: 'gateway.attempt',
  attempts: 'gateway.attempts',
  contentTruncated: 'gateway.content_truncated',
} as const;

/** `gen_ai.operation.name` of an endpoint; undefined for endpoints that are not model calls. */
export function operationName(endpoint: Endpoint): string | undefined {
  switch (endpoint) {
    case 'chat.completions':
    case 'responses':
      return 'chat';
    case 'completions':
      return 'text_completion';
    case 'embeddings':
      return 'embeddings';
    default:
      return undefined;
  }
}

/**
 * `gen_ai.provider.name` of a provider `type`. OpenAI-compatible servers are `openai`, as the
 * conventions ask when a system is reached through the OpenAI API (server.address tells them
 * apart); types the conventions do not list keep a name of their own.
 */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: 'openai',
  'openai-compatible': 'openai',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  gemini: 'gcp.gemini',
  cohere: 'cohere',
  meta: 'meta',
  llama: 'meta',
  huggingface: 'huggingface',
  hf: 'huggingface',
};

export function providerName(type: string): string {
  return PROVIDER_NAMES[type] ?? type;
}

const num = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The request parameters the conventions name (numbers only: never text). */
export function requestParameters(body: JsonObject | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!body) return out;
  const maxTokens = num(body.max_tokens) ?? num(body.max_completion_tokens) ?? num(body.max_output_tokens);
  if (maxTokens !== undefined) out[GENAI.requestMaxTokens] = maxTokens;
  const temperature = num(body.temperature);
  if (temperature !== undefined) out[GENAI.requestTemperature] = temperature;
  const topP = num(body.top_p);
  if (topP !== undefined) out[GENAI.requestTopP] = topP;
  return out;
}

const text = (v: JsonValue | undefined): string | undefined => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

/** The prompt of an OpenAI request body: messages, prompt or input, as text (JSON when structured). */
export function promptText(endpoint: Endpoint, body: JsonObject | undefined): string | undefined {
  if (!body) return undefined;
  switch (endpoint) {
    case 'chat.completions':
      return text(body.messages);
    case 'completions':
      return text(body.prompt);
    case 'embeddings':
      return text(body.input);
    case 'responses':
      return body.instructions === undefined ? text(body.input) : JSON.stringify({ instructions: body.instructions, input: body.input ?? null });
    default:
      return undefined;
  }
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The completion of an OpenAI response body: a single choice's text as is, several choices (or
 * tool calls) as the JSON of their messages. Embeddings (vectors) have none.
 */
export function completionText(endpoint: Endpoint, body: JsonValue | undefined): string | undefined {
  if (!isObject(body)) return undefined;
  if (endpoint === 'responses') return text(body.output);
  if (endpoint !== 'chat.completions' && endpoint !== 'completions') return undefined;
  const choices = Array.isArray(body.choices) ? body.choices.filter(isObject) : [];
  if (choices.length === 0) return undefined;
  if (endpoint === 'completions') return choices.map((c) => (typeof c.text === 'string' ? c.text : '')).join('\n');
  const messages = choices.map((c) => c.message);
  const only = messages.length === 1 && isObject(messages[0]) ? messages[0] : undefined;
  if (only && typeof only.content === 'string' && !only.tool_calls) return only.content;
  return JSON.stringify(messages);
}

/** The text of a streamed completion, assembled from its chunks' deltas, up to a byte budget. */
export class StreamedText {
  private parts: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(json: JsonValue | undefined): void {
    if (this.truncated || !isObject(json) || !Array.isArray(json.choices)) return;
    for (const c of json.choices) {
      if (!isObject(c)) continue;
      const delta = isObject(c.delta) ? c.delta : undefined;
      const piece = typeof delta?.content === 'string' ? delta.content : typeof c.text === 'string' ? c.text : undefined;
      if (!piece) continue;
      this.parts.push(piece);
      this.bytes += Buffer.byteLength(piece);
      if (this.bytes > this.maxBytes) {
        this.truncated = true;
        return;
      }
    }
  }

  get text(): string | undefined {
    return this.parts.length ? this.parts.join('') : undefined;
  }
}

/** `s` cut to at most `maxBytes` bytes of UTF-8, never inside a character. */
export function truncateUtf8(s: string, maxBytes: number): { text: string; truncated: boolean } {
  if (s.length * 3 <= maxBytes || Buffer.byteLength(s) <= maxBytes) return { text: s, truncated: false };
  const bytes = Buffer.from(s).subarray(0, maxBytes);
  // A character cut in two decodes as U+FFFD at the end: drop it.
  return { text: bytes.toString('utf8').replace(/\uFFFD+$/, ''), truncated: true };
}

/** Whether a span of this outcome and status failed (a server's view: 5xx, or the stream broke). */
export function serverFailed(outcome: ExchangeOutcome, status: number): boolean {
  return status >= 500 || outcome === 'failed' || outcome === 'interrupted';
}
