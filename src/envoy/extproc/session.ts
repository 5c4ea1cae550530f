import { Exchange, type Directive, type ExchangeDeps, type ExchangeOutcome } from '../../core/exchange';
import type { UpstreamAttempt } from '../../core/upstream-attempt';
import type { Logger } from '../../observability/logger';
import { Headers } from '../../core/headers';
import { errorBody } from '../../domain/errors';
import type { CommonResponse, HeaderMap, HeaderMutation, ProcessingMode, ProcessingRequest, ProcessingResponse, Struct } from './messages';
import { EXCHANGE_METADATA, METADATA_NAMESPACE, metadataValues } from '../metadata';

type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

function toHeaders(map: HeaderMap | undefined): Headers {
  const h = new Headers();
  for (const { key, value, raw_value } of map?.headers ?? []) {
    h.append(key, raw_value && raw_value.length ? raw_value.toString('utf8') : (value ?? ''));
  }
  return h;
}

function toMutation(edits: Map<string, string | null> | undefined): HeaderMutation | undefined {
  if (!edits || edits.size === 0) return undefined;
  const mutation: HeaderMutation = {};
  for (const [key, value] of edits) {
    if (value === null) (mutation.remove_headers ??= []).push(key);
    else (mutation.set_headers ??= []).push({ header: { key, raw_value: Buffer.from(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  }
  return mutation;
}

/**
 * Envoy's static processing mode skips the response (src/envoy/config/bootstrap.ts): response
 * processing is switched on here, for the requests the processor has seen. Every field is given
 * because Envoy takes body modes from an override as they are (unset means NONE).
 */
const PROCESS_RESPONSE: ProcessingMode = {
  request_header_mode: 'SEND',
  request_body_mode: 'BUFFERED',
  request_trailer_mode: 'SKIP',
  response_header_mode: 'SEND',
  response_body_mode: 'BUFFERED',
  response_trailer_mode: 'SKIP',
};

/**
 * An endable stream: Envoy's FULL_DUPLEX_STREAMED body mode, where the processor's reply says
 * when the body ends (StreamedBodyResponse.end_of_stream), so it can end the client's response
 * before the upstream's: Envoy then finishes the downstream response and resets the upstream
 * request. Trailers are sent so that a response ending in trailers still reaches the processor.
 */
const ENDABLE_RESPONSE: ProcessingMode = { response_body_mode: 'FULL_DUPLEX_STREAMED', response_trailer_mode: 'SEND' };

/** A body reply in FULL_DUPLEX_STREAMED mode: every chunk gets a streamed_response (a plain one is refused). */
function encodeDuplexBody(d: Directive, chunk: Buffer, endOfStream: boolean): ProcessingResponse {
  if (d.kind === 'respond') return encode('response_body', d);
  const out: ProcessingResponse = {
    response_body: { response: { streamed_body: { body: d.body ?? chunk, end_of_stream: endOfStream } } },
  };
  if (d.published) out.dynamic_metadata = toStruct(metadataValues(d.published));
  return out;
}

function encode(phase: Phase, d: Directive, downstream = false): ProcessingResponse {
  if (d.kind === 'respond') {
    const set = new Map(Object.entries(d.headers));
    return {
      immediate_response: { status: { code: d.status }, headers: toMutation(set), body: d.body, details: d.details },
    };
  }
  const common: CommonResponse = {};
  const mutation = toMutation(d.headers);
  if (mutation) common.header_mutation = mutation;
  if (d.body) {
    common.body_mutation = { body: d.body };
    if (phase === 'request_headers') common.status = 'CONTINUE_AND_REPLACE';
  }
  if (d.clearRouteCache && mutation) common.clear_route_cache = true;
  const out: ProcessingResponse = { [phase]: { response: common } };
  // Only the listener's filter processes responses; a provider cluster's filter never does.
  if (downstream && phase === 'request_headers') out.mode_override = PROCESS_RESPONSE;
  if (d.streamResponse) out.mode_override = d.endableStream ? ENDABLE_RESPONSE : { response_body_mode: 'STREAMED' };
  if (d.published) out.dynamic_metadata = toStruct(metadataValues(d.published));
  return out;
}

/** `{ 'llm-gateway': { key: value } }` as a google.protobuf.Struct. */
function toStruct(values: Record<string, string | number>): Struct {
  const fields: Struct['fields'] = {};
  for (const [k, v] of Object.entries(values)) fields[k] = typeof v === 'number' ? { numberValue: v } : { stringValue: v };
  return { fields: { [METADATA_NAMESPACE]: { structValue: { fields } } } };
}

/**
 * How an ext_proc stream ended: Envoy closed it ('ended', a half-close), reset it ('cancelled'),
 * it failed, or the gateway cut it while shutting down ('interrupted').
 */
export type StreamEnd = 'ended' | 'cancelled' | 'failed' | 'interrupted';

/**
 * What the client got. A final reply is not a delivered response yet: Envoy still has to send
 * it. It counts once Envoy ends the stream normally (a half-close when the request is done, with
 * ext_proc_graceful_grpc_close); a reset instead means Envoy, or the connection to it, went away
 * first. A shutdown that cuts the request makes it 'interrupted' whatever the stream did.
 */
export function outcomeOf(end: StreamEnd, answered: ExchangeOutcome | undefined): ExchangeOutcome {
  if (end === 'interrupted') return 'interrupted';
  if (answered) return end === 'ended' ? answered : 'interrupted';
  return end === 'failed' ? 'failed' : 'cancelled';
}

/** Writes what `send` needs; implemented by the gRPC stream (and by tests). */
export interface ReplySink {
  send(msg: ProcessingResponse): void;
}

/**
 * Translates one ext_proc stream's messages into Exchange calls. Messages are handled strictly
 * in order (streamed body chunks can arrive before the previous reply is written), and every
 * message gets exactly one reply of its own phase, or an immediate response.
 */
export class ExtProcSession {
  private readonly exchange: Exchange;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** Set by the final reply; the exchange finishes with it only once Envoy ends the stream. */
  private answered: 'completed' | 'responded' | undefined;
  /** The response body is in FULL_DUPLEX_STREAMED mode (an endable stream); `ended` once its end was sent. */
  private duplex: { ended: boolean } | undefined;

  constructor(
    private readonly deps: ExchangeDeps,
    private readonly sink: ReplySink,
  ) {
    this.exchange = new Exchange(deps);
  }

  /** Its fallback chain's per-attempt streams may still come: they must reach this process. */
  get awaitsAttempts(): boolean {
    return this.exchange.awaitsAttempts;
  }

  receive(msg: ProcessingRequest): void {
    this.queue = this.queue.then(() => this.handle(msg));
  }

  /** Resolves when every message received so far has been answered. */
  settled(): Promise<void> {
    return this.queue;
  }

  /** The stream ended: the exchange finishes with what the client got (see outcomeOf). */
  close(end: StreamEnd): Promise<void> {
    this.queue = this.queue.then(() => {
      this.closed = true;
      this.exchange.finish(outcomeOf(end, this.answered));
    });
    return this.queue;
  }

  private async handle(msg: ProcessingRequest): Promise<void> {
    if (this.closed) return;
    // A local reply of a filter before ext_proc (the local rate limit): Envoy sends its response
    // without the request ever reaching us. Not ours to change.
    if ((msg.request === 'response_headers' || msg.request === 'response_body') && !this.exchange.started) {
      this.write({ [msg.request]: { response: {} } });
      return;
    }
    let phase: Phase;
    let directive: Directive;
    let done = false;
    try {
      switch (msg.request) {
        case 'request_headers': {
          phase = 'request_headers';
          const m = msg.request_headers!;
          directive = await this.exchange.requestHeaders(toHeaders(m.headers), Boolean(m.end_of_stream));
          break;
        }
        case 'request_body':
          phase = 'request_body';
          directive = await this.exchange.requestBody(msg.request_body?.body ?? Buffer.alloc(0));
          break;
        case 'response_headers': {
          phase = 'response_headers';
          const m = msg.response_headers!;
          directive = await this.exchange.responseHeaders(toHeaders(m.headers), Boolean(m.end_of_stream));
          done = Boolean(m.end_of_stream);
          break;
        }
        case 'response_body': {
          phase = 'response_body';
          const m = msg.response_body!;
          const chunk = m.body ?? Buffer.alloc(0);
          directive = await this.exchange.responseBody(chunk, Boolean(m.end_of_stream));
          done = Boolean(m.end_of_stream);
          if (this.duplex) {
            this.writeDuplex(this.exchange.withMetadata(directive), chunk, done);
            return;
          }
          break;
        }
        case 'request_trailers':
          this.write({ request_trailers: {} });
          return;
        case 'response_trailers':
          this.write({ response_trailers: {} });
          this.answered = 'completed';
          return;
        default:
          return;
      }
    } catch (err) {
      this.deps.log.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'ext_proc message handling failed');
      directive = {
        kind: 'respond',
        status: 500,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(errorBody(500, 'internal_error', 'The gateway failed to process the request.'))),
        details: 'gateway_internal_error',
      };
    }
    this.write(encode(phase!, this.exchange.withMetadata(directive), true));
    if (directive.kind === 'respond') this.answered = 'responded';
    else if (done) this.answered = 'completed';
    if (directive.kind === 'continue' && directive.streamResponse && directive.endableStream) this.duplex = { ended: false };
  }

  /** An endable stream's body chunk: its end (the upstream's, or the processor's cut) goes once. */
  private writeDuplex(d: Directive, chunk: Buffer, upstreamEnded: boolean): void {
    // Envoy may still hand over what was in flight when the stream was cut: nothing more goes out.
    if (this.duplex!.ended && d.kind === 'continue') return;
    const ends = d.kind === 'continue' && (upstreamEnded || Boolean(d.endStream));
    this.write(encodeDuplexBody(d, chunk, ends));
    if (d.kind === 'respond') this.answered = 'responded';
    else if (ends) {
      this.duplex!.ended = true;
      this.answered = 'completed';
    }
  }

  private write(msg: ProcessingResponse): void {
    if (this.closed) return;
    try {
      this.sink.send(msg);
    } catch {
      // Envoy may have reset the stream between our check and the write; nothing to do.
      this.closed = true;
    }
  }
}

/**
 * The provider of the chosen upstream host, from the `xds.upstream_host_metadata` attribute
 * (`filter_metadata['llm-gateway'].provider`). Envoy 1.40 reports that attribute as the
 * metadata message in protobuf text format inside a string value.
 */
const HOST_PROVIDER = /key: "llm-gateway" value \{ fields \{ key: "provider" value \{ string_value: "([^"\\]+)"/;

export function providerFromAttributes(attributes: Record<string, unknown> | undefined): string | undefined {
  const fields = (attributes?.['envoy.filters.http.ext_proc'] as { fields?: Record<string, { stringValue?: string }> } | undefined)?.fields;
  const text = fields?.['xds.upstream_host_metadata']?.stringValue;
  return text ? HOST_PROVIDER.exec(text)?.[1] : undefined;
}

/** The exchange id the listener's stream published as dynamic metadata (forwarded by Envoy). */
function exchangeIdOf(msg: ProcessingRequest): string | undefined {
  const value = msg.metadata_context?.filter_metadata?.[METADATA_NAMESPACE]?.fields?.[EXCHANGE_METADATA];
  return typeof value?.stringValue === 'string' ? value.stringValue : undefined;
}

const internalError = (message: string): Directive => ({
  kind: 'respond',
  status: 500,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify(errorBody(500, 'internal_error', message))),
  details: 'gateway_internal_error',
});

/**
 * The ext_proc stream of one upstream attempt (the provider cluster's filter): only request
 * headers are sent (body mode NONE), answered with the translated path, host, credential and,
 * when the provider needs another shape, the body (CONTINUE_AND_REPLACE).
 */
export class UpstreamSession {
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly attempt: UpstreamAttempt,
    private readonly provider: string,
    private readonly sink: ReplySink,
    private readonly log: Logger,
  ) {}

  receive(msg: ProcessingRequest): void {
    this.queue = this.queue.then(() => this.handle(msg));
  }

  close(): Promise<void> {
    this.queue = this.queue.then(() => {
      this.closed = true;
    });
    return this.queue;
  }

  private async handle(msg: ProcessingRequest): Promise<void> {
    if (this.closed) return;
    let reply: ProcessingResponse;
    try {
      if (msg.request === 'request_headers') {
        const provider = this.provider === '*' ? providerFromAttributes(msg.attributes) : this.provider;
        reply = encode('request_headers', await this.attempt.requestHeaders(provider ?? '', exchangeIdOf(msg)));
      } else if (msg.request === 'request_body') {
        reply = { request_body: { response: {} } };
      } else if (msg.request === 'request_trailers') {
        reply = { request_trailers: {} };
      } else {
        // Response phases are skipped by this filter's processing mode; answer in kind if asked.
        reply = msg.request ? { [msg.request]: msg.request.endsWith('trailers') ? {} : { response: {} } } : {};
      }
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message, stack: (err as Error).stack }, provider: this.provider }, 'upstream attempt failed');
      reply = encode('request_headers', internalError('The gateway failed to prepare the upstream request.'));
    }
    try {
      this.sink.send(reply);
    } catch {
      this.closed = true;
    }
  }
}
