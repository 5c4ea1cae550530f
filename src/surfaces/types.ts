import type { Endpoint, JsonObject, JsonValue } from '../domain';
import type { SseEvent } from '../domain/sse';

/**
 * A client surface: another API than OpenAI's that clients may call the gateway with (an earlier
 * .NET gateway's `/api/v1/...`; later Anthropic Messages, OpenAI Responses). The rest of the
 * gateway speaks OpenAI only: the core asks the surface to translate the client's request body
 * into the OpenAI body before any plugin runs (so validation, routing, quotas and the content
 * filter see an OpenAI body), and every answer back into the client's shape (buffered JSON,
 * each SSE event, errors). Surfaces are pure: no I/O, no state beyond one stream's.
 */

/** What one of a surface's paths addresses. */
export interface SurfaceRoute {
  /** The OpenAI endpoint the request is served as (routing, key roles, usage records). */
  readonly endpoint: Endpoint;
  /** The surface's own name for the operation (`completion.stream`, `models.provider`, ...). */
  readonly operation: string;
  /** The API the client called, as usage records name it (`messages`); default `endpoint`. */
  readonly api?: Endpoint;
}

/** What the translators of answers may need to know beyond the OpenAI body. */
export interface SurfaceReplyContext {
  /** The model id the client asked for (the OpenAI body's `model` after request translation). */
  readonly requestedModel: string | undefined;
  /** The provider that served the request, once routed. */
  readonly provider: string | undefined;
  /** The client's own request body, before any translation (Responses echoes its parameters). */
  readonly request?: JsonObject;
}

/** Per-stream translation of OpenAI events (chunks, error events, `[DONE]`) to the client's. */
export interface SurfaceStream {
  /** The client's events for one OpenAI event (possibly none, possibly several). */
  translate(event: SseEvent): SseEvent[];
  /** Events to send when the stream ends. */
  finish(): SseEvent[];
  /**
   * A native attempt's own event, passed to the client unchanged: the translator keeps its
   * state (started, open block, sequence numbers) so `abort` (and any translated event that
   * must replace a native one) continue the client's stream consistently.
   */
  observe?(event: SseEvent): void;
  /**
   * Ends the stream early, in the client's API: the error event(s), then the stream's proper end.
   * For whoever must cut a stream short (a plugin's refusal, a spent budget, a lost upstream):
   * `error` is OpenAI's error body (`{"error":{"message","type","param","code"}}`, what
   * `GatewayError#toBody()` or a plugin's `respond()` gives). Anthropic Messages answers
   * `event: error` then nothing more (Anthropic's own streams end so); Responses answers
   * `response.failed` with the error; the .NET surface keeps OpenAI's `data: {error}` then
   * `data: [DONE]`. After abort, `translate` and `finish` return nothing. A request without a
   * surface (OpenAI's own paths) ends with `openAIStreamAbort` (./abort.ts).
   */
  abort(error: JsonValue): SseEvent[];
}

export interface ClientSurface {
  /** Shown to plugins as `ctx.request.surface`. */
  readonly name: string;
  /** The URL prefix its paths are under (`/api/v1`); what follows is given to `route`. */
  readonly prefix: string;
  /** The operation a path (after the prefix, no trailing slash) addresses; undefined: none (404). */
  route(rest: string): SurfaceRoute | undefined;
  /**
   * The client's JSON body → the OpenAI body of `route.endpoint`. Throws a 4xx `GatewayError`
   * whose `param` names the client's field for input it cannot take. Never mutates `body`.
   */
  request(route: SurfaceRoute, body: JsonObject): JsonObject;
  /** A success answer (OpenAI's JSON, status < 400) → the client's. */
  response(route: SurfaceRoute, body: JsonValue, ctx: SurfaceReplyContext): JsonValue;
  /** A translator for a streamed answer; undefined when OpenAI's events go out unchanged. */
  stream(route: SurfaceRoute, ctx: SurfaceReplyContext): SurfaceStream | undefined;
  /** An error answer (OpenAI's `{"error":{...}}`, or whatever a plugin sent) → the client's. */
  error(status: number, body: JsonValue): JsonValue;
  /**
   * Native targets: whether a provider `type` speaks the route's API itself (Anthropic for
   * Messages, OpenAI for Responses). For such an attempt the core sends the client's own body
   * (only the model id changed) and passes the answer back unchanged, plugins still seeing the
   * OpenAI view; every other attempt is translated. Absent: always translated.
   */
  native?(route: SurfaceRoute, providerType: string): boolean;
  /** Headers of the client's that a native attempt carries on (`anthropic-version`, `anthropic-beta`). */
  nativeHeaders?(route: SurfaceRoute, get: (name: string) => string | undefined): Record<string, string>;
  /**
   * For a surface whose plugins see the client's own body (Responses: an OpenAI API already),
   * the chat completions body a translated attempt sends. Throws a 4xx `GatewayError` for what
   * only a native target can do (`previous_response_id`). Absent: `request` did it up front.
   */
  attemptBody?(route: SurfaceRoute, body: JsonObject): JsonObject;
  /**
   * What a translated attempt cannot carry (a server tool, a PDF), as a 4xx `GatewayError`
   * naming the client's field; undefined when the translation is faithful enough to send.
   */
  untranslatable?(route: SurfaceRoute, clientBody: JsonObject): Error | undefined;
}

/** A request that came in through a surface: the surface and what its path addresses. */
export interface SurfaceMatch {
  readonly surface: ClientSurface;
  /** Undefined for a path under the surface's prefix that it does not serve. */
  readonly route: SurfaceRoute | undefined;
  /** The path after the prefix. */
  readonly rest: string;
}
