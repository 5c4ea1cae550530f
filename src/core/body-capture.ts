import type { JsonObject } from '../domain';
import { SseParser } from '../domain/sse';

/**
 * Request and response bodies for the per-request log line (logging.bodies). Only built when
 * that setting is on: with it off the Exchange holds no capture and nothing is copied.
 *
 * What is logged is what crossed the gateway's edges after its plugins:
 * - the request body once every request plugin has run on it (so the content filter's
 *   redactions apply); a request a plugin refused, or that was never valid JSON, logs none;
 * - the response body exactly as the client got it: the (translated, filtered) JSON, the
 *   gateway's or Envoy's error body, or, for a stream, the assembled text of its deltas (each
 *   choice's `delta.content`, in choice order), followed by any error event the stream carried.
 * Each body is cut at `maxBytes` (UTF-8) and then says how long it was.
 */
export class BodyCapture {
  private request: string | undefined;
  private response: string | undefined;
  private stream: StreamText | undefined;
  /** The request body as the client sent it, until the plugins have run. */
  private rawRequest: string | undefined;

  constructor(private readonly maxBytes: number) {}

  /** The client's body text, valid JSON (kept by reference: no copy). */
  requestText(text: string): void {
    this.rawRequest = text;
  }

  /** Every request plugin has run: the body they leave is the one logged. */
  requestPassed(body: JsonObject | undefined, changed: boolean): void {
    if (body === undefined) return;
    this.request = capText(changed || this.rawRequest === undefined ? JSON.stringify(body) : this.rawRequest, this.maxBytes);
    this.rawRequest = undefined;
  }

  /** A whole response body as sent to the client (the last one given wins). */
  responseBody(body: Buffer, contentType: string | undefined): void {
    this.stream = undefined;
    if (body.length === 0) this.response = undefined;
    else if (isText(contentType)) this.response = capBuffer(body, this.maxBytes);
    else this.response = `[${contentType} body: ${body.length} bytes]`;
  }

  /** A streamed response starts: its text is assembled from what is sent to the client. */
  streamStarted(): void {
    this.stream = new StreamText(this.maxBytes);
    this.response = undefined;
  }

  /** Server-sent events as sent to the client (any framing; `end` at the end of the stream). */
  streamed(text: string, end: boolean): void {
    this.stream?.push(text, end);
  }

  /** The log line's fields (none for a body there was not). */
  fields(): { request_body?: string; response_body?: string } {
    const response = this.stream ? this.stream.text() : this.response;
    const out: { request_body?: string; response_body?: string } = {};
    if (this.request !== undefined) out.request_body = this.request;
    if (response !== undefined) out.response_body = response;
    return out;
  }
}

/** Assembles a stream's text (chat completions, legacy completions, Responses API deltas). */
class StreamText {
  private readonly parser = new SseParser();
  private readonly choices: string[] = [];
  private readonly errors: string[] = [];
  /** UTF-8 bytes kept, and bytes seen past the cap (counted, not kept). */
  private kept = 0;
  private dropped = 0;

  constructor(private readonly maxBytes: number) {}

  push(text: string, end: boolean): void {
    const events = this.parser.push(text);
    if (end) events.push(...this.parser.flush());
    for (const ev of events) {
      if (!ev.data.startsWith('{')) continue;
      const json = ev.json as Record<string, unknown> | undefined;
      if (!json) continue;
      // An error event (the provider's, or the gateway's when a plugin ended the stream).
      if (json.error !== undefined || json.type === 'error') {
        this.add(ev.data, (s) => this.errors.push(s));
        continue;
      }
      if (Array.isArray(json.choices)) {
        for (const c of json.choices as Record<string, unknown>[]) {
          const delta = c?.delta as Record<string, unknown> | undefined;
          const piece = typeof delta?.content === 'string' ? delta.content : typeof c?.text === 'string' ? c.text : undefined;
          if (!piece) continue;
          const i = typeof c.index === 'number' && Number.isSafeInteger(c.index) && c.index >= 0 && c.index < 128 ? c.index : 0;
          this.add(piece, (s) => (this.choices[i] = (this.choices[i] ?? '') + s));
        }
      } else if (json.type === 'response.output_text.delta' && typeof json.delta === 'string') {
        this.add(json.delta, (s) => (this.choices[0] = (this.choices[0] ?? '') + s));
      }
    }
  }

  private add(piece: string, keep: (s: string) => void): void {
    const n = Buffer.byteLength(piece);
    // Kept up to the cap (the piece crossing it included); beyond, only counted for the marker.
    if (this.kept <= this.maxBytes) {
      keep(piece);
      this.kept += n;
    } else this.dropped += n;
  }

  text(): string {
    const text = [this.choices.filter((c) => c !== undefined).join('\n\n'), ...this.errors].filter(Boolean).join('\n');
    return this.dropped ? capText(text, this.maxBytes, Buffer.byteLength(text) + this.dropped) : capText(text, this.maxBytes);
  }
}

/** `… [truncated: N bytes]` closes a body cut at the cap; N is its full length. */
export const truncationMarker = (totalBytes: number): string => `… [truncated: ${totalBytes} bytes]`;

/** `text` cut to `maxBytes` of UTF-8 (on a character boundary), marked when cut. */
export function capText(text: string, maxBytes: number, totalBytes?: number): string {
  // At most 3 bytes per UTF-16 unit: short strings need no byte count.
  if (totalBytes === undefined && text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.byteLength(text);
  const total = Math.max(totalBytes ?? bytes, bytes);
  if (bytes <= maxBytes) return total > bytes ? text + truncationMarker(total) : text;
  return capBuffer(Buffer.from(text, 'utf8'), maxBytes, total);
}

/** A UTF-8 body cut to `maxBytes` (never inside a character), marked when cut. */
export function capBuffer(body: Buffer, maxBytes: number, totalBytes = body.length): string {
  if (body.length <= maxBytes) return body.toString('utf8');
  let cut = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls between characters.
  while (cut > 0 && (body[cut] & 0xc0) === 0x80) cut--;
  return body.toString('utf8', 0, cut) + truncationMarker(totalBytes);
}

function isText(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const ct = contentType.toLowerCase();
  return ct.includes('json') || ct.startsWith('text/') || ct.includes('xml') || ct.includes('x-www-form-urlencoded');
}
