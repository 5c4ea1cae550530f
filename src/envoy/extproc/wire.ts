import * as protobuf from 'protobufjs';

/**
 * Protobuf wire helpers for the hot-path codecs (extproc/codec.ts, ratelimit/codec.ts).
 *
 * Both run on protobufjs's Reader and Writer, driven field by field: a hand-written two-pass
 * encoder (measure, then write into one exactly sized Buffer) was tried and measured no faster
 * than Writer; the cost is in the strings themselves. What is added here: tags and enums looked
 * up by name in the reflection types, and a cheaper way to decode runs of short strings.
 */

/**
 * The tags (field number and wire type) of the named fields of a message type. A name the type
 * lacks throws here, at load time, rather than becoming a field that is silently never read.
 */
export function fieldTags<K extends string>(root: protobuf.Root, typeName: string, names: readonly K[]): Record<K, number> {
  const type = root.lookupType(typeName);
  const tags = {} as Record<K, number>;
  for (const name of names) {
    const f = type.fields[name];
    if (!f) throw new Error(`${typeName} has no field ${name}`);
    f.resolve();
    const basic = (protobuf.types.basic as Record<string, number | undefined>)[f.type];
    // Maps, messages, strings, bytes and packed repeated scalars are length-delimited; enums are varints.
    const wire = f.map || f.resolvedType instanceof protobuf.Type || (f.repeated && f.packed) ? 2 : f.resolvedType instanceof protobuf.Enum ? 0 : basic;
    if (wire === undefined) throw new Error(`${typeName}.${name}: no wire type for ${f.type}`);
    tags[name] = (f.id << 3) | wire;
  }
  return tags;
}

/** Enum value names → numbers. */
export function enumValues(root: protobuf.Root, enumName: string): Record<string, number> {
  return root.lookupEnum(enumName).values;
}

/** A Reader over a Buffer (grpc-js hands deserializers Buffers; tests may pass Uint8Arrays). */
export function bufferReader(buf: Uint8Array): protobuf.Reader {
  return protobuf.Reader.create(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
}

/** Reads a length prefix; returns where that length-delimited field ends. */
export function subEnd(r: protobuf.Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new RangeError(`protobuf: length ${len} at ${r.pos} past the end (${r.len})`);
  return end;
}

/**
 * A run of string fields decoded with one native call: `text` is the bytes [base, end) as
 * latin1, so an ASCII field is a substring of it, a fraction of the cost of one Buffer-to-string
 * call per field. For regions made of short strings (header lists, rate limit descriptors),
 * never for bodies.
 */
export interface TextRegion {
  text: string;
  base: number;
}

export function textRegion(r: protobuf.Reader, end: number): TextRegion {
  return { text: (r.buf as Buffer).toString('latin1', r.pos, end), base: r.pos };
}

/** A length-delimited field (string or bytes) as UTF-8 text, invalid sequences as U+FFFD. */
export function readText(r: protobuf.Reader, region: TextRegion): string {
  const end = subEnd(r);
  const start = r.pos;
  const buf = r.buf;
  r.pos = end;
  for (let i = start; i < end; i++) if (buf[i] >= 0x80) return (buf as Buffer).toString('utf8', start, end);
  return region.text.substring(start - region.base, end - region.base);
}
