import type { Endpoint, JsonObject, JsonValue, ProviderTarget, TokenUsage } from '../domain';
import type { SseEvent } from '../domain/sse';

/** A configured provider with its secret resolved. Never logged or returned by the admin API as is. */
export interface ProviderRuntime {
  readonly name: string;
  readonly type: string;
  readonly baseUrl: URL;
  /** Path of the base URL without a trailing slash (`/v1`). */
  readonly basePath: string;
  readonly apiKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly models: readonly string[];
  /** Envoy cluster that reaches this provider. */
  readonly cluster: string;
  /** True when the provider expects a credential (api_key_env or env: given). */
  readonly requiresKey: boolean;
  /** False when a required credential is missing and requests must bring their own (virtual keys). */
  readonly available: boolean;
  readonly timeoutSeconds: number;
  /** Client APIs (`responses`, `messages`) sent to this provider translated even though its type speaks them. */
  readonly translatedApis?: readonly string[];
}

export interface TranslationInput {
  readonly endpoint: Endpoint;
  readonly body: JsonObject | undefined;
  readonly stream: boolean;
  readonly target: ProviderTarget;
  readonly provider: ProviderRuntime;
  /** Credential for this attempt: the request's own (virtual key) or the provider's. */
  readonly apiKey: string | undefined;
}

/** What one upstream attempt sends. */
export interface UpstreamRequest {
  /** Full upstream path, base path (and any query string, e.g. Gemini's `?alt=sse`) included. */
  path: string;
  /** Headers to set (provider credential, version headers, extras). */
  headers: Record<string, string>;
  /** Translated body; undefined means the client's body is forwarded unchanged. */
  body?: JsonObject;
}

/** Per-stream state for translating a provider's SSE events to OpenAI chunks. */
export interface StreamTranslator {
  /** Returns the OpenAI events to emit for one upstream event (possibly none, possibly several). */
  translate(event: SseEvent): SseEvent[];
  /** Events to emit when the upstream stream ends. */
  finish(): SseEvent[];
}

/**
 * One translator per provider API: OpenAI chat/embeddings in, native request out, native
 * response back to OpenAI. The OpenAI-compatible translator is the identity.
 */
export interface ProviderTranslator {
  readonly type: string;
  request(input: TranslationInput): UpstreamRequest;
  /**
   * Native JSON body to OpenAI JSON; undefined when the body is already OpenAI-shaped. For
   * status >= 400 it returns the OpenAI error shape `{"error":{"message","type","param","code"}}`.
   */
  response(body: JsonValue, status: number, input: TranslationInput): JsonValue | undefined;
  /** The status the client should see for a native status (Anthropic's 529 overloaded → 503). */
  status?(status: number): number;
  /** Undefined when the provider already streams OpenAI chunks. */
  streamTranslator(input: TranslationInput): StreamTranslator | undefined;
  /** Token usage from an OpenAI-shaped response body or stream chunk. */
  usage(body: JsonValue): TokenUsage | undefined;
}
