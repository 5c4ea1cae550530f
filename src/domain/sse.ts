import type { JsonValue } from './json';

/** One server-sent event of a streamed response. */
export interface StreamEvent {
  /** The `event:` field, if any. */
  readonly event: string | undefined;
  /** The raw `data:` payload. */
  readonly data: string;
  /** `data` parsed as JSON (undefined for `[DONE]` or non-JSON). Parsed on first access. */
  readonly json: JsonValue | undefined;
  /** Replaces the payload sent to the client. */
  replace(json: JsonValue): void;
  /** Removes this event from what the client receives. */
  drop(): void;
  /**
   * Sends an extra `data:` event with this payload just before this one (even if this one is
   * dropped); `event` gives it an `event:` line (Responses and Anthropic streams name their events).
   */
  insertBefore(json: JsonValue, event?: string): void;
}


/** One parsed server-sent event with lazy JSON parsing and edit tracking. */
export class SseEvent implements StreamEvent {
  private parsed: JsonValue | undefined;
  private parsedDone = false;
  /** Set when a hook replaced or dropped the event; the chunk must then be re-serialised. */
  changed = false;
  dropped = false;
  /** Events a hook asked to send ahead of this one, already serialised. */
  private inserted: string[] | undefined;

  constructor(
    readonly event: string | undefined,
    public data: string,
    readonly id?: string,
    /** The event as it arrived (LF-normalised), re-sent verbatim when nothing changed it. */
    private readonly raw?: string,
  ) {}

  get json(): JsonValue | undefined {
    if (!this.parsedDone) {
      this.parsedDone = true;
      if (this.data !== '[DONE]' && this.data !== '') {
        try {
          this.parsed = JSON.parse(this.data) as JsonValue;
        } catch {
          this.parsed = undefined;
        }
      }
    }
    return this.parsed;
  }

  replace(json: JsonValue): void {
    this.parsed = json;
    this.parsedDone = true;
    this.data = JSON.stringify(json);
    this.changed = true;
  }

  drop(): void {
    this.dropped = true;
    this.changed = true;
  }

  insertBefore(json: JsonValue, event?: string): void {
    if (event !== undefined && !/^[\w.-]+$/.test(event)) throw new Error('an SSE event name is letters, digits, `_`, `.` and `-`');
    const name = event === undefined ? '' : `event: ${event}\n`;
    (this.inserted ??= []).push(`${name}data: ${JSON.stringify(json)}\n\n`);
  }

  serialize(): string {
    const before = this.inserted ? this.inserted.join('') : '';
    if (this.dropped) return before;
    if (!this.changed && this.raw !== undefined) return before + this.raw;
    let out = before;
    if (this.event !== undefined) out += `event: ${this.event}\n`;
    if (this.id !== undefined) out += `id: ${this.id}\n`;
    for (const line of this.data.split('\n')) out += `data: ${line}\n`;
    return out + '\n';
  }
}

/**
 * Incremental SSE parser. Network chunks do not line up with events, so the unfinished tail
 * is kept until its blank-line terminator arrives. Accepts LF and CRLF framing (Gemini uses CRLF).
 */
export class SseParser {
  private tail = '';

  /** Feeds one chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = this.tail + chunk;
    // A CR ending the chunk may be the first half of a CRLF: keep it raw until the next chunk.
    let heldCr = '';
    if (text.endsWith('\r')) {
      heldCr = '\r';
      text = text.slice(0, -1);
    }
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n\n', start);
      if (end < 0) break;
      const ev = parseEvent(text.slice(start, end));
      if (ev) events.push(ev);
      start = end + 2;
    }
    this.tail = text.slice(start) + heldCr;
    return events;
  }

  /** Whatever is left when the stream ends without a final blank line. */
  flush(): SseEvent[] {
    const rest = this.tail.replace(/\r$/, '\n');
    this.tail = '';
    const ev = rest.trim() ? parseEvent(rest) : undefined;
    return ev ? [ev] : [];
  }

  get pending(): number {
    return this.tail.length;
  }
}

function parseEvent(block: string): SseEvent | undefined {
  let event: string | undefined;
  let id: string | undefined;
  let data: string[] | undefined;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') (data ??= []).push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  if (data === undefined && event === undefined) return undefined;
  return new SseEvent(event, (data ?? []).join('\n'), id, block + '\n\n');
}
