import type { Logger } from '../observability/logger';
import type { GatewayRequest, GatewayResponse, RateLimitCapability, RequestContext } from '../plugins/api';
import type { ClientCertificate, Endpoint, ExchangeOutcome, JsonObject, JsonValue, Principal, ProviderTarget, RateLimitDimension, RateLimitPublication, RequestQuota, TokenUsage } from '../domain';
import { RATE_LIMIT_DIMENSIONS } from '../domain';
import { currentElement, identityOf } from '../identity/xfcc';
import { presentedSecret } from '../keys/presented';
import { modelDenied } from './access-policy';
import { HeaderEdits, Headers } from './headers';

/** Set by Envoy alone (SANITIZE_SET on the mTLS listener, SANITIZE elsewhere). */
export const CLIENT_CERT_HEADER = 'x-forwarded-client-cert';

export class RequestState implements GatewayRequest {
  body: JsonObject | undefined;
  bodyChanged = false;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly query: string,
    readonly headers: Headers,
    readonly endpoint: Endpoint,
    readonly prefix: string,
    readonly surface: string = 'openai',
    readonly api: Endpoint = endpoint,
  ) {}

  get model(): string | undefined {
    const m = this.body?.model;
    return typeof m === 'string' ? m : undefined;
  }

  get stream(): boolean {
    return this.body?.stream === true;
  }

  get presentedKey(): string | undefined {
    return presentedSecret((n) => this.headers.get(n));
  }

  private cert: ClientCertificate | null | undefined;
  get clientCertificate(): ClientCertificate | undefined {
    if (this.cert === undefined) {
      const header = this.headers.get(CLIENT_CERT_HEADER);
      try {
        this.cert = (header && identityOf(currentElement(header))) || null;
      } catch {
        // Envoy writes this header itself, so this should not happen; without an identity the
        // request simply needs an API key.
        this.cert = null;
      }
    }
    return this.cert ?? undefined;
  }
}

/** A request's rate limit dimensions and quota, as plugins publish them. */
export class RateLimitState implements RateLimitCapability {
  readonly publication: RateLimitPublication = { dimensions: {} };
  /** Changed since it was last sent to Envoy. */
  changed = false;

  setDimension(dimension: RateLimitDimension, value: string): void {
    // Envoy drops empty descriptor values; absent means "does not match a rule on this field".
    if (!RATE_LIMIT_DIMENSIONS.includes(dimension) || typeof value !== 'string' || value === '') return;
    this.publication.dimensions[dimension] = value;
    this.changed = true;
  }

  setQuota(quota: RequestQuota): void {
    const { principal, limit, windowSeconds } = quota;
    if (typeof principal !== 'string' || principal === '' || !Number.isSafeInteger(limit) || limit < 0 || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
      throw new TypeError('setQuota needs a principal, a limit ≥ 0 and a window ≥ 1 s (integers)');
    }
    this.publication.quota = { principal, limit, windowSeconds };
    this.changed = true;
  }
}

export class ResponseState implements GatewayResponse {
  body: JsonValue | undefined;
  bodyChanged = false;

  constructor(
    /** The status the client gets (after any provider-specific mapping). */
    public status: number,
    readonly headers: Headers,
    readonly streamed: boolean,
  ) {}
}

/** The context object hooks receive; the exchange reads the edits it accumulates. */
export class ExchangeContext implements RequestContext {
  principal: Principal | undefined;
  private routed: ProviderTarget | undefined;
  usage: TokenUsage | undefined;
  response: ResponseState | undefined;
  readonly metadata = new Map<string, unknown>();
  readonly rateLimits = new RateLimitState();
  readonly requestHeaderEdits = new HeaderEdits();
  readonly responseHeaderEdits = new HeaderEdits();
  /** When the first response body byte arrived (performance.now()). */
  firstByteAt: number | undefined;
  servedModel: string | undefined;
  costUsd: number | undefined;
  finalStatus: number | undefined;
  durationMs: number | undefined;
  outcome: ExchangeOutcome | undefined;
  /** Credential a plugin chose for the upstream attempt, overriding the provider's own. */
  providerCredential: string | undefined;
  readonly receivedAt = Date.now();

  private childLog: Logger | undefined;

  constructor(
    readonly id: string,
    readonly requestId: string,
    readonly startTime: number,
    readonly request: RequestState,
    private readonly parentLog: Logger,
  ) {}

  /**
   * The request's logger, carrying its ids. Made on first use: most requests log one line or
   * none, and a child logger per request (bindings serialised, redaction prepared) was a few
   * percent of the processor's CPU.
   */
  get log(): Logger {
    return (this.childLog ??= this.parentLog.child({ exchange_id: this.id, request_id: this.requestId }));
  }

  get target(): ProviderTarget | undefined {
    return this.routed;
  }

  /**
   * A plugin choosing the target: the caller's allowed models are checked here, whatever plugin
   * it is (a 403 from the hook that set it), and again by the core before the request is routed.
   */
  set target(target: ProviderTarget | undefined) {
    if (target) {
      const denied = modelDenied(this.principal, this.request.model);
      if (denied) throw denied;
    }
    this.routed = target;
  }

  /** The core's own choice (an attempt's target), already checked. */
  assignTarget(target: ProviderTarget): void {
    this.routed = target;
  }

  get timeToFirstByteMs(): number | undefined {
    return this.firstByteAt === undefined ? undefined : this.firstByteAt - this.startTime;
  }

  setProviderCredential(credential: string): void {
    this.providerCredential = credential;
  }

  setUsage(usage: TokenUsage): void {
    this.usage = usage;
  }

  /** A plugin asked for a stream the gateway can end early (ctx.endableStream()). */
  wantsEndableStream = false;

  endableStream(): void {
    this.wantsEndableStream = true;
  }

  /** Dynamic metadata not yet sent to Envoy. */
  readonly dynamicMetadata = new Map<string, string | number>();
  /** Every value published for this request, sent or not. */
  readonly publishedMetadata = new Map<string, string | number>();

  setDynamicMetadata(key: string, value: string | number): void {
    this.dynamicMetadata.set(key, value);
    this.publishedMetadata.set(key, value);
  }

  setRequestHeader(name: string, value: string): void {
    this.requestHeaderEdits.set(name, value);
  }

  removeRequestHeader(name: string): void {
    this.requestHeaderEdits.remove(name);
  }

  setResponseHeader(name: string, value: string): void {
    this.responseHeaderEdits.set(name, value);
  }

  removeResponseHeader(name: string): void {
    this.responseHeaderEdits.remove(name);
  }

  setRequestBody(body: JsonObject): void {
    this.request.body = body;
    this.request.bodyChanged = true;
  }

  setResponseBody(body: JsonValue): void {
    if (!this.response) throw new Error('setResponseBody called before the response arrived');
    this.response.body = body;
    this.response.bodyChanged = true;
  }
}
