import type { Logger } from '../observability/logger';
import type {
  Endpoint,
  ExchangeOutcome,
  GatewayRequest,
  GatewayResponse,
  JsonObject,
  JsonValue,
  Principal,
  ProviderTarget,
  RequestContext,
  TokenUsage,
} from '../plugins/types';
import { HeaderEdits, Headers } from './headers';

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
  ) {}

  get model(): string | undefined {
    const m = this.body?.model;
    return typeof m === 'string' ? m : undefined;
  }

  get stream(): boolean {
    return this.body?.stream === true;
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
  target: ProviderTarget | undefined;
  usage: TokenUsage | undefined;
  response: ResponseState | undefined;
  readonly metadata = new Map<string, unknown>();
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

  get timeToFirstByteMs(): number | undefined {
    return this.firstByteAt === undefined ? undefined : this.firstByteAt - this.startTime;
  }

  setProviderCredential(credential: string): void {
    this.providerCredential = credential;
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
