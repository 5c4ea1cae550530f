import type { HeaderView } from '../domain';

/** Case-insensitive header map. Names are stored lower-cased, as HTTP/2 and Envoy use them. */
export class Headers implements HeaderView {
  private readonly map: Map<string, string>;

  constructor(entries?: Iterable<[string, string]>) {
    this.map = new Map();
    if (entries) for (const [k, v] of entries) this.append(k, v);
  }

  get(name: string): string | undefined {
    return this.map.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }

  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), value);
  }

  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }

  /** Repeated headers are joined with a comma, as RFC 9110 allows for list-valued fields. */
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const prev = this.map.get(key);
    this.map.set(key, prev === undefined ? value : `${prev},${value}`);
  }
}

/** C0 controls but HTAB, and DEL: Envoy refuses a header mutation carrying one (a 5xx for the client). */
const HEADER_VALUE_INVALID = /[\x00-\x08\x0a-\x1f\x7f]/;

export function isValidHeaderValue(value: string): boolean {
  return !HEADER_VALUE_INVALID.test(value);
}

/**
 * Pending edits to one direction's headers. Later edits of the same name win, so a plugin
 * removing a header after another set it behaves as a person would expect.
 */
export class HeaderEdits {
  private readonly edits = new Map<string, string | null>();

  set(name: string, value: string): void {
    // Thrown at the plugin that set it (its on_error policy applies), not found by Envoy later.
    if (!isValidHeaderValue(value)) throw new TypeError(`The value for header ${name.toLowerCase()} contains control characters.`);
    this.edits.set(name.toLowerCase(), value);
  }

  remove(name: string): void {
    this.edits.set(name.toLowerCase(), null);
  }

  get size(): number {
    return this.edits.size;
  }

  /** Moves the pending edits out, leaving this object empty. */
  take(): Map<string, string | null> {
    const out = new Map(this.edits);
    this.edits.clear();
    return out;
  }
}
