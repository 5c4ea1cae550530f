import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { errorBody, GatewayError, isGatewayError } from '../domain/errors';
import type { Logger } from '../observability/logger';
import type { GatewayMetrics } from '../observability/metrics';
import type { RequestTrace, Tracer } from '../observability/tracing';
import type { PluginHost } from '../plugins/host';
import type { PriceBook, RequestContext, ShortCircuit } from '../plugins/api';
import type { ExchangeOutcome, JsonObject, JsonValue, ProviderTarget, RateLimitKind, RateLimitPublication } from '../domain';
import type { ProviderRegistry } from '../control/provider-registry';
import { translatorFor } from '../providers/translators';
import type { ProviderTranslator, StreamTranslator, TranslationInput } from '../providers/types';
import type { InFlight, PendingRequest, RoutePlan } from './attempts';
import type { UpstreamAttempt } from './upstream-attempt';
import { ExchangeContext, RequestState, ResponseState } from './context';
import { hasDotSegment, MODEL_ENDPOINTS, parsePath } from './endpoints';
import { Headers } from './headers';
import { SseEvent, SseParser } from '../domain/sse';
import { INTERNAL_HEADER_PREFIX } from '../ratelimit/descriptors';
import type { Continue, Directive, Respond } from './directives';
import type { Published } from './published';
import { modelDenied } from './access-policy';
import { CLIENT_CERT_HEADER } from './context';
import { correlationId } from '../util/correlation';
import { BodyCapture } from './body-capture';
import type { SurfaceMatch, SurfaceReplyContext, SurfaceStream } from '../surfaces';
import { viewKey, type SurfaceRequest } from './surface-attempt';

export type { Continue, Directive, Respond };


export interface ExchangeDeps {
  plugins: PluginHost;
  providers: ProviderRegistry;
  metrics: GatewayMetrics;
  log: Logger;
  /** Request header Envoy's route reads the destination cluster from. */
  routingHeader: string;
  pricing?: PriceBook;
  inflight: InFlight;
  /** Prepares upstream attempts (translation, credential): here for single-target requests. */
  attempts: UpstreamAttempt;
  /** Primary target plus fallbacks, and the Envoy cluster that tries them in order. */
  planRoute: (ctx: RequestContext, target: ProviderTarget) => RoutePlan;
  /**
   * The kinds of rate limit that can apply, from the request's rate limit publication and the
   * metadata plugins set themselves (none: no RateLimitService call).
   */
  rateLimitKinds?: (rateLimit: RateLimitPublication, metadata: ReadonlyMap<string, string | number>) => readonly RateLimitKind[];
  /**
   * server.request_timeout_seconds in milliseconds (0 or absent: none). A provider's own
   * timeout_seconds, sent as x-envoy-upstream-rq-timeout-ms (which replaces the route timeout),
   * is capped by it, so no provider setting lets a request outlive it.
   */
  requestTimeoutMs?: number;
  /** logging.bodies: request and response bodies on the per-request log line, each cut at maxBytes. */
  logBodies?: { maxBytes: number };
  /** tracing.enabled: OpenTelemetry spans (src/observability/tracing.ts); absent, tracing costs a null check. */
  tracer?: Tracer;
}

/** Client credentials and hop-by-hop values that must never reach a provider. */
const CLIENT_ONLY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'accept-encoding', CLIENT_CERT_HEADER];
const CONTINUE: Continue = { kind: 'continue' };
/** Added by Envoy to responses (the virtual host's include_attempt_count_in_response). */
const ATTEMPT_COUNT_HEADER = 'x-envoy-attempt-count';
/** Whether the caller brings its own credential for this provider (a virtual key mapped to it). */
function carriesCredential(ctx: RequestContext, provider: string): boolean {
  const forProvider = ctx.principal?.credentialFor;
  return forProvider === '*' || forProvider === provider;
}

const OPENAI_RATE_LIMIT_HEADERS = ['limit-requests', 'remaining-requests', 'reset-requests', 'limit-tokens', 'remaining-tokens', 'reset-tokens'];

/**
 * The caller's limits, as the RateLimitService reported them under internal names, in OpenAI's
 * x-ratelimit-* headers, replacing the ones a provider sent about the gateway's own account.
 */
function renameRateLimitHeaders(ctx: RequestContext): void {
  const headers = ctx.response!.headers;
  for (const name of OPENAI_RATE_LIMIT_HEADERS) {
    const value = headers.get(`${INTERNAL_HEADER_PREFIX}${name}`);
    if (value === undefined) continue;
    ctx.setResponseHeader(`x-ratelimit-${name}`, value);
    ctx.removeResponseHeader(`${INTERNAL_HEADER_PREFIX}${name}`);
  }
}

/** Far above any provider's model ids; bounds what is copied into headers and logs. */
const MAX_MODEL_LENGTH = 256;
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;
/** Throws on malformed UTF-8 instead of substituting U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type { ExchangeOutcome };

/**
 * The life of one HTTP request through the gateway, independent of the ext_proc wire protocol:
 * each method takes what Envoy saw and returns what Envoy should do. Bodies are parsed once.
 */
export class Exchange {
  ctx!: ExchangeContext;
  private translator: ProviderTranslator | undefined;
  private input: TranslationInput | undefined;
  private streamTranslator: StreamTranslator | undefined;
  /** The client surface (src/surfaces) the request came through; undefined for the OpenAI paths. */
  private surface: SurfaceMatch | undefined;
  private surfaceStream: SurfaceStream | undefined;
  /** The model the client asked for, as its surface's request translation gave it. */
  private requestedModel: string | undefined;
  /** The client's body text, kept for a surface's native attempts; and what those attempts need. */
  private clientText: string | undefined;
  private surfaceRequest: SurfaceRequest | undefined;
  /** The answering attempt got the client's own API: its answer goes back as it came (src/core/surface-attempt.ts). */
  private native = false;
  /** A plugin edited a native stream's view: the rest of it is translated from the view. */
  private nativeRewritten = false;
  private sse: SseParser | undefined;
  private decoder: StringDecoder | undefined;
  private rewriteStream = false;
  /** Set once a plugin ended the stream: later upstream events are dropped. */
  private streamEnded = false;
  /**
   * An endable stream (ctx.endableStream(), Envoy's FULL_DUPLEX_STREAMED): a plugin's short-circuit
   * ends the client's response there and Envoy cancels the upstream. `cut` once that end is sent.
   */
  private endable: { cut: boolean; outcome?: ExchangeOutcome } | undefined;
  private finished = false;
  private registered = false;

  /** Per-attempt streams (a fallback chain) may still ask for this exchange by its id. */
  get awaitsAttempts(): boolean {
    return this.registered && !this.finished;
  }
  private pending: PendingRequest | undefined;
  private status = 0;
  /** Published values not yet sent to Envoy. */
  private publish: Published = {};
  /** Bodies for the log line: only with logging.bodies on (nothing is kept otherwise). */
  private readonly capture: BodyCapture | undefined;
  /** The request's span: only with tracing on. */
  private trace: RequestTrace | undefined;

  constructor(private readonly deps: ExchangeDeps) {
    if (deps.logBodies) this.capture = new BodyCapture(deps.logBodies.maxBytes);
  }

  /** Whether the request reached the processor (its headers were handled). */
  get started(): boolean {
    return this.ctx !== undefined;
  }

  async requestHeaders(headers: Headers, endOfStream: boolean): Promise<Directive> {
    const startTime = performance.now();
    const rawPath = headers.get(':path') ?? '/';
    const q = rawPath.indexOf('?');
    const path = q < 0 ? rawPath : rawPath.slice(0, q);
    const parsed = parsePath(path);
    // Ours, never the client's: x-request-id is kept by Envoy when a client sends one, so two
    // clients could share it. In-flight state and usage records are keyed on this id.
    const id = randomUUID();
    const requestId = correlationId(headers.get('x-request-id')) ?? id;
    this.surface = parsed.surface;
    const surfaceName = parsed.surface?.surface.name ?? 'openai';
    const request = new RequestState(headers.get(':method') ?? 'GET', path, q < 0 ? '' : rawPath.slice(q + 1), headers, parsed.endpoint, parsed.prefix, surfaceName, parsed.surface?.route?.api);
    this.ctx = new ExchangeContext(id, requestId, startTime, request, this.deps.log);
    this.trace = this.deps.tracer?.startRequest(this.ctx);

    // Internal routing headers are the processor's to set; a client-supplied one is dropped.
    // Envoy's x-envoy-* request headers (retry, timeout and routing overrides) are honoured from
    // internal addresses, so a client could steer the router with them: only the processor sets them.
    for (const [name] of headers.entries()) {
      if (name.startsWith('x-gateway-') || name.startsWith('x-envoy-')) this.ctx.removeRequestHeader(name);
    }
    // A CONNECT tunnel's body never ends, so the buffered body would be waited for forever.
    if (request.method === 'CONNECT') return this.fail(new GatewayError(405, 'method_not_allowed', 'CONNECT is not supported.'));
    if (hasDotSegment(path)) return this.fail(new GatewayError(400, 'invalid_path', 'The request path must not contain `.` or `..` segments.'));

    const short = await this.deps.plugins.run('onRequestHeaders', this.ctx);
    if (short) return this.respondWith(short);
    if (endOfStream) return this.routeRequest();
    return this.continueRequest();
  }

  async requestBody(body: Buffer): Promise<Directive> {
    const request = this.ctx.request;
    if (body.length > 0) {
      let text: string;
      try {
        text = STRICT_UTF8.decode(body);
      } catch {
        // Buffer#toString would quietly turn bad bytes into U+FFFD; refuse them instead.
        return this.fail(new GatewayError(400, 'invalid_encoding', 'The request body is not valid UTF-8.'));
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return this.fail(new GatewayError(400, 'invalid_json', 'We could not parse the JSON body of your request. The body must be valid JSON.'));
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return this.fail(new GatewayError(400, 'invalid_request_body', 'The request body must be a JSON object.'));
      }
      request.body = parsed as JsonObject;
      // A native attempt forwards the client's own bytes (src/core/surface-attempt.ts).
      if (this.surface?.surface.native) this.clientText = text;
      this.capture?.requestText(text);
    }
    return this.routeRequest();
  }

  private async routeRequest(): Promise<Directive> {
    const { request } = this.ctx;
    if (MODEL_ENDPOINTS.has(request.endpoint)) {
      if (request.method !== 'POST') {
        return this.fail(new GatewayError(405, 'method_not_allowed', `${request.method} is not allowed on ${request.path}; use POST.`));
      }
      if (!request.body) return this.fail(new GatewayError(400, 'missing_body', 'The request needs a JSON body.'));
      // Another API's body becomes the OpenAI body before any plugin sees it (src/surfaces).
      const route = this.surface?.route;
      if (route) {
        const clientBody = request.body;
        const surface = this.surface!.surface;
        try {
          this.ctx.setRequestBody(surface.request(route, clientBody));
        } catch (err) {
          if (isGatewayError(err)) return this.fail(err);
          throw err;
        }
        this.requestedModel = request.model;
        // A surface with native targets decides per attempt (src/core/surface-attempt.ts). Plugins
        // that see the client's own body (Responses) edit it; otherwise edits show against this view.
        const view = surface.attemptBody ? undefined : viewKey(request.body);
        if (surface.native) this.surfaceRequest = { surface, route, clientBody, clientText: this.clientText ?? JSON.stringify(clientBody), view };
      }
      const model = request.body.model;
      if (model === undefined || model === null || model === '') {
        return this.fail(new GatewayError(400, 'missing_required_parameter', 'You must provide a model parameter.', { param: 'model' }));
      }
      if (typeof model !== 'string') {
        return this.fail(new GatewayError(400, 'invalid_type', "Invalid type for 'model': expected a string.", { param: 'model' }));
      }
      // The model is echoed in response headers and logs: no control characters (tab included).
      if (model.length > MAX_MODEL_LENGTH || CONTROL_CHARS.test(model)) {
        const why = model.length > MAX_MODEL_LENGTH ? `longer than ${MAX_MODEL_LENGTH} characters` : 'contains control characters';
        return this.fail(new GatewayError(400, 'invalid_value', `Invalid value for 'model': it ${why}.`, { param: 'model' }));
      }
    }

    const short = await this.deps.plugins.run('onRequest', this.ctx);
    if (short) return this.respondWith(short);
    // Logged as the plugins left it (redactions applied); a refused request's body never is.
    this.capture?.requestPassed(request.body, request.bodyChanged);

    if (request.endpoint === 'unknown' || request.endpoint === 'models') {
      return this.fail(new GatewayError(404, 'unknown_url', `Unknown request URL: ${request.method} ${request.path}.`));
    }
    const target = this.ctx.target;
    const provider = target && this.deps.providers.get(target.provider);
    if (!target || !provider || !translatorFor(provider.type)) {
      return this.fail(
        new GatewayError(404, 'model_not_found', `The model \`${request.model ?? ''}\` does not exist or you do not have access to it.`, {
          param: 'model',
        }),
      );
    }
    const denied = modelDenied(this.ctx.principal, request.model);
    if (denied) return this.fail(denied);
    // The primary provider must be usable before anything is sent; fallbacks are checked per attempt.
    if (provider.requiresKey && !provider.apiKey && !carriesCredential(this.ctx, provider.name)) {
      return this.fail(
        new GatewayError(503, 'provider_not_configured', `The provider \`${provider.name}\` has no API key configured for this request.`),
      );
    }

    const checks = this.deps.rateLimitKinds?.(this.ctx.rateLimits.publication, this.ctx.publishedMetadata);
    if (checks?.length) this.publish.checks = checks;
    const plan = this.deps.planRoute(this.ctx, target);
    const pending: PendingRequest = { ctx: this.ctx, plan, attempts: 0, tried: [], surface: this.surfaceRequest };
    this.pending = pending;

    const edits = new Map<string, string | null>();
    for (const h of CLIENT_ONLY_HEADERS) if (request.headers.has(h)) edits.set(h, null);
    // The client API's own headers (anthropic-version...) reach native attempts only, which set them.
    const sr = this.surfaceRequest;
    for (const h of Object.keys(sr?.surface.nativeHeaders?.(sr.route, (n) => request.headers.get(n)) ?? {})) edits.set(h, null);
    for (const [k, v] of this.ctx.requestHeaderEdits.take()) edits.set(k, v);
    edits.set(this.deps.routingHeader, plan.cluster);
    if (provider.timeoutSeconds > 0 && plan.targets.length === 1) {
      const ms = Math.round(provider.timeoutSeconds * 1000);
      const cap = this.deps.requestTimeoutMs;
      edits.set('x-envoy-upstream-rq-timeout-ms', String(cap && cap > 0 ? Math.min(ms, cap) : ms));
    }
    const out: Continue = { kind: 'continue', headers: edits, clearRouteCache: true };
    // Read before an attempt's hooks reset the flag; serialised once, below.
    const editedBody = request.bodyChanged ? request.body : undefined;
    if (plan.targets.length > 1) {
      // The aggregate cluster's filter asks for each attempt; it finds this exchange by its id,
      // published as metadata no client can set (src/envoy/config/clusters.ts).
      this.deps.inflight.register(this.ctx.id, pending);
      this.registered = true;
      this.publish.exchangeId = this.ctx.id;
      if (editedBody) setBody(out, editedBody);
      return out;
    }
    // One provider only: the attempt is prepared here, with no stream of its own; Envoy's
    // same-provider retries resend it as it is.
    const attempt = await this.deps.attempts.prepare(pending, target.provider);
    if (attempt.kind === 'respond') {
      // In the client's API when it came through a surface (a refused translation, a local answer).
      if (this.surface) return this.respondWith({ kind: 'respond', status: attempt.status, body: attempt.body.toString('utf8'), headers: attempt.headers });
      this.status = attempt.status;
      this.capture?.responseBody(attempt.body, attempt.headers['content-type']);
      return attempt;
    }
    for (const [k, v] of attempt.headers ?? []) edits.set(k, v);
    // A translated (or hook-edited) body already carries the plugins' edits.
    if (attempt.body) out.body = attempt.body;
    else if (editedBody) setBody(out, editedBody);
    return out;
  }

  private continueRequest(): Continue {
    const edits = this.ctx.requestHeaderEdits;
    return edits.size ? { kind: 'continue', headers: edits.take() } : CONTINUE;
  }

  async responseHeaders(headers: Headers, _endOfStream: boolean): Promise<Directive> {
    // The attempt that produced this response decides how it is translated back.
    const attempt = this.pending?.current;
    if (attempt) {
      this.translator = attempt.translator;
      this.input = attempt.input;
      this.native = attempt.native === true;
      this.ctx.assignTarget(attempt.target);
    }
    const status = Number(headers.get(':status') ?? 0);
    this.status = status;
    const streamed = (headers.get('content-type') ?? '').startsWith('text/event-stream');
    this.ctx.response = new ResponseState(status, headers, streamed);

    renameRateLimitHeaders(this.ctx);
    const short = await this.deps.plugins.run('onResponseHeaders', this.ctx);
    if (short) return this.respondWith(short);

    if (streamed) {
      this.capture?.streamStarted();
      this.sse = new SseParser();
      this.decoder = new StringDecoder('utf8');
      this.streamTranslator = this.input && this.translator?.streamTranslator(this.input);
      if (this.surface?.route && status < 400) this.surfaceStream = this.surface.surface.stream(this.surface.route, this.replyContext());
      this.rewriteStream = Boolean(this.streamTranslator) || Boolean(this.surfaceStream) || this.deps.plugins.has('onResponseChunk');
    }
    const edits = this.ctx.responseHeaderEdits.take();
    // Envoy counts every attempt, the same-provider retries it made on its own included.
    const envoyAttempts = Number(headers.get(ATTEMPT_COUNT_HEADER) ?? 0);
    if (headers.has(ATTEMPT_COUNT_HEADER)) edits.set(ATTEMPT_COUNT_HEADER, null);
    if (attempt) {
      edits.set('x-gateway-provider', attempt.target.provider);
      edits.set('x-gateway-served-by', `${attempt.target.provider}/${attempt.target.model}`);
      const attempts = Math.max(attempt.number, envoyAttempts);
      if (attempts > 1) edits.set('x-gateway-attempts', String(attempts));
    }
    // A native answer keeps the provider's status (Anthropic's 529 is its clients' own).
    const mapped = this.native ? undefined : this.translator?.status?.(status);
    if (mapped !== undefined && mapped !== status) {
      edits.set(':status', String(mapped));
      this.status = mapped;
      this.ctx.response.status = mapped;
    }
    if (streamed && status < 400 && this.ctx.wantsEndableStream) this.endable = { cut: false };
    return { kind: 'continue', headers: edits, streamResponse: streamed, ...(this.endable ? { endableStream: true } : {}) };
  }

  async responseBody(chunk: Buffer, endOfStream: boolean): Promise<Directive> {
    this.ctx.firstByteAt ??= performance.now();
    const response = this.ctx.response;
    if (!response) return CONTINUE;
    return response.streamed ? this.streamChunk(chunk, endOfStream) : this.bufferedBody(response, chunk);
  }

  private async bufferedBody(response: ResponseState, chunk: Buffer): Promise<Directive> {
    if (chunk.length > 0 && isJson(response.headers.get('content-type'))) {
      try {
        response.body = JSON.parse(chunk.toString('utf8')) as JsonValue;
      } catch {
        response.body = undefined;
      }
    }
    if (response.body !== undefined && this.translator && this.input) {
      const translated = this.translator.response(response.body, response.status, this.input);
      if (translated !== undefined) {
        response.body = translated;
        response.bodyChanged = true;
      }
      if (response.status < 400) this.ctx.usage = this.translator.usage(response.body);
    }
    // A native answer: plugins read its OpenAI view, the client gets the provider's bytes unless they edit it.
    const viewTranslated = this.native && response.bodyChanged;
    if (this.native) response.bodyChanged = false;
    if (response.status >= 400 && !isErrorShape(response.body)) {
      // An HTML page from a proxy, an empty body...: clients still get OpenAI's error shape.
      response.body = errorBody(response.status, 'upstream_error', `The provider answered with HTTP ${response.status}.`);
      response.bodyChanged = true;
    }
    const model = (response.body as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string') this.ctx.servedModel = model;
    this.reportUsage();
    const short = await this.deps.plugins.run('onResponse', this.ctx);
    if (short) return this.respondWith(short);

    const edits = this.ctx.responseHeaderEdits.take();
    const out: Continue = { kind: 'continue', headers: edits };
    // The client's shape for a surface's request; plugins (and onComplete) keep the OpenAI body.
    const reshape = !this.native || (response.bodyChanged && (viewTranslated || response.status >= 400));
    const clientBody = this.surface && response.body !== undefined && reshape ? this.surfaceJson(response.status, response.body) : undefined;
    if (clientBody !== undefined) {
      out.body = Buffer.from(JSON.stringify(clientBody));
      edits.set('content-length', String(out.body.length));
      edits.set('content-type', 'application/json');
    } else if (response.bodyChanged) {
      out.body = Buffer.from(JSON.stringify(response.body ?? null));
      edits.set('content-length', String(out.body.length));
      edits.set('content-type', 'application/json');
    }
    this.capture?.responseBody(out.body ?? chunk, out.body ? 'application/json' : response.headers.get('content-type'));
    return out;
  }

  private async streamChunk(chunk: Buffer, endOfStream: boolean): Promise<Directive> {
    const text = this.decoder!.write(chunk) + (endOfStream ? this.decoder!.end() : '');
    const events = this.sse!.push(text);
    if (endOfStream) events.push(...this.sse!.flush());

    let out = '';
    for (const upstreamEvent of events) {
      if (this.native) {
        out += await this.nativeEvent(upstreamEvent);
        continue;
      }
      const emitted = this.streamTranslator ? this.streamTranslator.translate(upstreamEvent) : [upstreamEvent];
      for (const ev of emitted) out += await this.emitEvent(ev);
    }
    if (endOfStream && this.streamTranslator) {
      let ended = '';
      for (const ev of this.streamTranslator.finish()) ended += await this.emitEvent(ev);
      // A native stream cut short: the view's error and end, in the client's API.
      out += this.native && this.surfaceStream ? this.surfaceEvents(this.surfaceStream, ended, false) : ended;
    }
    let tail = '';
    // An endable stream a plugin ended: this chunk is the client's last (see cutStream).
    const cut = this.cutStream();
    if (endOfStream || cut) this.reportUsage();
    if (endOfStream && !this.streamEnded) {
      const short = await this.deps.plugins.run('onResponse', this.ctx);
      if (short) tail = streamErrorEvent(short);
    }
    // A surface's client gets its own events: what the plugins let out, translated last (a
    // native stream's events are the client's already: only the gateway's own tail is translated).
    if (this.surfaceStream && this.native) {
      if (tail) tail = this.surfaceEvents(this.surfaceStream, tail, false);
    } else if (this.surfaceStream) {
      out = this.surfaceEvents(this.surfaceStream, out + tail, endOfStream || cut);
      tail = '';
    }

    // What the client gets: the upstream's text, or the rewritten events, and any error tail.
    this.capture?.streamed((this.rewriteStream ? out : text) + tail, endOfStream || cut);
    if (cut) return { kind: 'continue', body: Buffer.from(out + tail), endStream: true };
    // Unchanged pass-through: let Envoy forward the original bytes as they are.
    if (!this.rewriteStream) return tail ? { kind: 'continue', body: Buffer.concat([chunk, Buffer.from(tail)]) } : CONTINUE;
    return { kind: 'continue', body: Buffer.from(out + tail) };
  }

  /**
   * One event of a native attempt's stream: plugins see its OpenAI view (the provider's stream
   * translator), and the client gets the event itself until a plugin changes that view (a
   * redaction: from then on the client gets the view as plugins leave it, in its API) or ends the stream.
   * Responses passed to OpenAI have no view: plugins see the events themselves, as before.
   */
  private async nativeEvent(ev: SseEvent): Promise<string> {
    const stream = this.surfaceStream;
    if (!this.streamTranslator) {
      const ended = this.streamEnded;
      const out = await this.emitEvent(ev);
      // A plugin ended it here: its OpenAI error becomes the client's end (Responses: response.failed).
      if (stream && !ended && this.streamEnded) return this.surfaceEvents(stream, out, false);
      stream?.observe?.(ev);
      return out;
    }
    let emitted = '';
    let edited = false;
    for (const view of this.streamTranslator.translate(ev)) {
      const before = view.serialize();
      const after = await this.emitEvent(view);
      emitted += after;
      // Hiding a usage-only chunk (usage-recorder) changes nothing the client sees.
      if (after !== before && !(view.dropped && !hasChoices(view))) edited = true;
    }
    if (!stream) return emitted;
    // From the first edit on, the client gets the view as plugins leave it (a hold-back window
    // moves text across events), continuing the blocks the native events opened.
    if (edited) this.nativeRewritten = true;
    if (this.streamEnded || this.nativeRewritten) return this.surfaceEvents(stream, emitted, false);
    stream.observe?.(ev);
    return ev.serialize();
  }

  private async emitEvent(ev: SseEvent): Promise<string> {
    if (this.streamEnded) return '';
    if (this.rewriteStream) {
      const short = await this.deps.plugins.run('onResponseChunk', this.ctx, ev);
      if (short) {
        this.streamEnded = true;
        if (this.endable) this.endable.outcome = short.outcome;
        return streamErrorEvent(short);
      }
    }
    if (this.ctx.servedModel === undefined && ev.data.startsWith('{')) {
      const model = (ev.json as { model?: unknown } | undefined)?.model;
      if (typeof model === 'string') this.ctx.servedModel = model;
    }
    // Only chunks that carry a usage object are parsed on the pass-through path.
    if (this.translator && ev.data.includes('"usage"')) {
      const usage = this.translator.usage(ev.json ?? null);
      if (usage) this.ctx.usage = usage;
    }
    if (this.trace?.wantsStreamEvents) this.trace.streamEvent(ev);
    return this.rewriteStream ? ev.serialize() : '';
  }

  /** Whether the stream ends with this chunk because a plugin ended an endable stream (once). */
  private cutStream(): boolean {
    if (!this.endable || !this.streamEnded || this.endable.cut) return false;
    this.endable.cut = true;
    return true;
  }

  /** The response's total tokens, for the rate limit filter's token charge on stream done. */
  private reportUsage(): void {
    if (this.ctx.usage) this.publish.tokens = this.ctx.usage.totalTokens;
  }

  /** Adds what plugins and the core published since the last reply. */
  withMetadata(d: Directive): Directive {
    const ctx = this.ctx;
    if (d.kind !== 'continue' || !ctx) return d;
    const published: Published = this.publish;
    if (ctx.dynamicMetadata.size) {
      published.metadata = new Map(ctx.dynamicMetadata);
      ctx.dynamicMetadata.clear();
    }
    if (ctx.rateLimits.changed) {
      published.rateLimit = ctx.rateLimits.publication;
      ctx.rateLimits.changed = false;
    }
    if (Object.keys(published).length === 0) return d;
    this.publish = {};
    return { ...d, published };
  }

  private respondWith(short: ShortCircuit): Respond {
    this.status = short.status;
    const headers = { 'content-type': 'application/json', ...(short.headers ?? {}) };
    const body = this.surface ? this.surfaceReply(short.status, short.body, headers['content-type']) : short.body;
    const reply: Respond = {
      kind: 'respond',
      status: short.status,
      headers,
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      details: 'gateway_plugin_response',
    };
    this.capture?.responseBody(reply.body, reply.headers['content-type']);
    return reply;
  }

  /** What a surface's answer translators may need beyond the OpenAI body. */
  private replyContext(): SurfaceReplyContext {
    return { requestedModel: this.requestedModel, provider: this.ctx.target?.provider, request: this.surfaceRequest?.clientBody };
  }

  /** An OpenAI JSON answer in the surface's shape: an error, or the success of a known route. */
  private surfaceJson(status: number, body: JsonValue): JsonValue | undefined {
    const { surface, route } = this.surface!;
    if (status >= 400) return surface.error(status, body);
    return route ? surface.response(route, body, this.replyContext()) : undefined;
  }

  /** A gateway reply (a plugin's or the core's) in the surface's shape: JSON, or a replayed stream. */
  private surfaceReply(status: number, body: JsonValue, contentType: string): JsonValue {
    const route = this.surface!.route;
    if (contentType.startsWith('text/event-stream')) {
      const stream = route && status < 400 && typeof body === 'string' ? this.surface!.surface.stream(route, this.replyContext()) : undefined;
      return stream ? this.surfaceEvents(stream, body as string, true) : body;
    }
    if (!contentType.includes('json')) return body;
    let json = body;
    if (typeof body === 'string') {
      try {
        json = JSON.parse(body) as JsonValue;
      } catch {
        return body;
      }
    }
    return this.surfaceJson(status, json) ?? body;
  }

  /** Serialised OpenAI events (whole events only) → the surface's; its final events at the end. */
  private surfaceEvents(stream: SurfaceStream, text: string, end: boolean): string {
    const parser = new SseParser();
    const events = [...parser.push(text), ...parser.flush()];
    let out = '';
    for (const ev of events) for (const translated of stream.translate(ev)) out += translated.serialize();
    if (end) for (const ev of stream.finish()) out += ev.serialize();
    return out;
  }

  private fail(err: GatewayError): Respond {
    return this.respondWith({ kind: 'respond', status: err.status, body: err.toBody(), headers: err.headers });
  }

  /** Called once when the stream ends, however it ends. Logs, counts, and runs onComplete hooks. */
  finish(outcome: ExchangeOutcome): void {
    if (this.finished || !this.ctx) return;
    this.finished = true;
    if (this.registered) this.deps.inflight.delete(this.ctx.id);
    const ctx = this.ctx;
    const end = performance.now();
    // The gateway ended the stream itself (a spent budget): that is how it ended, whatever Envoy did next.
    if (this.endable?.cut && this.endable.outcome) outcome = this.endable.outcome;
    // No response reached the client: it left (499), or the gateway cut the request while shutting
    // down or lost the stream, and Envoy answered 503 if it still could.
    const status = this.status !== 0 ? this.status : outcome === 'cancelled' ? 499 : outcome === 'interrupted' || outcome === 'failed' ? 503 : 0;
    ctx.finalStatus = status;
    ctx.outcome = outcome;
    ctx.durationMs = round(end - ctx.startTime);
    const { metrics } = this.deps;
    const provider = ctx.target?.provider ?? 'none';
    const model = metrics.modelLabel(ctx.target?.model);
    metrics.requests.inc({ provider, model, endpoint: ctx.request.endpoint, status: String(status) });
    metrics.duration.observe({ provider, model, endpoint: ctx.request.endpoint }, (end - ctx.startTime) / 1000);
    if (ctx.firstByteAt !== undefined && ctx.target) metrics.timeToFirstByte.observe({ provider, model }, (ctx.firstByteAt - ctx.startTime) / 1000);
    const u = ctx.usage;
    if (u && ctx.target) {
      ctx.costUsd = this.deps.pricing?.cost(ctx.servedModel ?? ctx.target.model, u, ctx.principal?.tier);
      if (ctx.costUsd === undefined && ctx.servedModel) ctx.costUsd = this.deps.pricing?.cost(ctx.target.model, u, ctx.principal?.tier);
      if (ctx.costUsd) metrics.cost.inc({ provider, model }, ctx.costUsd);
      metrics.tokens.inc({ provider, model, kind: 'prompt' }, u.promptTokens);
      metrics.tokens.inc({ provider, model, kind: 'completion' }, u.completionTokens);
      if (u.cachedTokens) metrics.tokens.inc({ provider, model, kind: 'cached' }, u.cachedTokens);
      if (u.reasoningTokens) metrics.tokens.inc({ provider, model, kind: 'reasoning' }, u.reasoningTokens);
    }
    // The parent logger with the ids inline: no child logger made just for this line.
    this.deps.log.info(
      {
        exchange_id: ctx.id,
        request_id: ctx.requestId,
        method: ctx.request.method,
        path: ctx.request.path,
        endpoint: ctx.request.endpoint,
        model: ctx.request.model,
        provider: ctx.target?.provider,
        upstream_model: ctx.target?.model,
        principal: ctx.principal?.id,
        status,
        outcome,
        streamed: ctx.response?.streamed ?? false,
        duration_ms: round(end - ctx.startTime),
        ttfb_ms: ctx.firstByteAt === undefined ? undefined : round(ctx.firstByteAt - ctx.startTime),
        prompt_tokens: u?.promptTokens,
        completion_tokens: u?.completionTokens,
        total_tokens: u?.totalTokens,
        cost_usd: ctx.costUsd,
        // Only with logging.bodies on (src/core/body-capture.ts).
        ...this.capture?.fields(),
      },
      'request',
    );
    void this.deps.plugins.complete(ctx);
    this.trace?.end(ctx, outcome, status);
  }
}

/** Replaces the request body, with the content-length Envoy needs for a buffered body. */
function setBody(out: Continue, body: JsonObject): void {
  out.body = Buffer.from(JSON.stringify(body));
  out.headers!.set('content-length', String(out.body.length));
}

/** An OpenAI chunk that carries choices (content, tool calls, a finish reason), not only usage. */
function hasChoices(ev: SseEvent): boolean {
  const choices = (ev.json as { choices?: unknown } | undefined)?.choices;
  return Array.isArray(choices) && choices.length > 0;
}

function isErrorShape(body: JsonValue | undefined): boolean {
  const e = (body as { error?: unknown } | undefined)?.error;
  return Boolean(e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string');
}

function isJson(contentType: string | undefined): boolean {
  return !contentType || contentType.includes('json');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * A blocked or failed stream ends with an OpenAI-style error event and `[DONE]`, not a cut
 * connection: the OpenAI SDKs raise the `error` object of a data event as an APIError.
 */
function streamErrorEvent(short: ShortCircuit): string {
  const body = typeof short.body === 'string' ? short.body : JSON.stringify(short.body);
  return `data: ${body}\n\ndata: [DONE]\n\n`;
}
