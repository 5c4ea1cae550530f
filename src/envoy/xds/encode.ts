import fs from 'node:fs';
import path from 'node:path';
import * as protobuf from 'protobufjs';
import { PROTO_INCLUDE_DIRS } from '../extproc/protos';

/**
 * Envoy configuration as JSON (the shape Envoy's YAML/JSON bootstrap takes) to protobuf bytes.
 *
 * protobufjs's `Type.fromObject` does plain field mapping, enums by name and 64-bit integers;
 * the proto3 JSON mapping of the well-known types (Any with `@type`, Duration strings,
 * bare-value wrappers, Struct, Timestamp, FieldMask) is done here, by walking the JSON along
 * the message schema. Unknown fields, unknown enum names and values of the wrong kind are
 * errors rather than being dropped silently: a typo must not become a cluster that quietly
 * lacks its TLS settings.
 */

export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Loaded up front; other Envoy message types are found and loaded when first needed. */
export const ENCODER_PROTO_FILES = [
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/clusters/aggregate/v3/cluster.proto',
  'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto',
  'envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.proto',
];

const PARSE_OPTIONS: protobuf.IParseOptions = { keepCase: true };

/** A JSON configuration that does not fit its message type; the message names the JSON path. */
export class EncodeError extends Error {}

let root: protobuf.Root | undefined;
let typeIndex: Map<string, string> | undefined;

function findProto(target: string): string | undefined {
  for (const dir of PROTO_INCLUDE_DIRS) {
    const file = path.join(dir, target);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

function getRoot(): protobuf.Root {
  if (root) return root;
  // validate.proto and friends import descriptor.proto; make sure protobufjs has it bundled
  // (proto-loader registers it too, but this module should not depend on that).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const descriptor = require('protobufjs/google/protobuf/descriptor.json') as { nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } } };
  protobuf.common('descriptor', descriptor.nested.google.nested.protobuf.nested);
  const r = new protobuf.Root();
  // Imports are relative to the include directories; google/protobuf/* are bundled with protobufjs.
  r.resolvePath = (_origin: string, target: string) => (path.isAbsolute(target) ? target : (findProto(target) ?? target));
  r.loadSync(ENCODER_PROTO_FILES, PARSE_OPTIONS);
  r.resolveAll();
  root = r;
  return r;
}

/** Loads more .proto files (paths relative to PROTO_INCLUDE_DIRS) into the encoder. */
export function loadProtoFiles(files: string[]): void {
  const r = getRoot();
  r.loadSync(files, PARSE_OPTIONS);
  r.resolveAll();
}

/** Message name → .proto file for every top-level message in the bundled API protos. */
function buildTypeIndex(): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (base: string, rel: string) => {
    for (const entry of fs.readdirSync(path.join(base, rel), { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(base, relPath);
      else if (entry.name.endsWith('.proto')) {
        const text = fs.readFileSync(path.join(base, relPath), 'utf8');
        const pkg = /^package\s+([\w.]+)\s*;/m.exec(text)?.[1];
        if (!pkg) continue;
        for (const m of text.matchAll(/^message\s+(\w+)/gm)) if (!index.has(`${pkg}.${m[1]}`)) index.set(`${pkg}.${m[1]}`, relPath);
      }
    }
  };
  for (const dir of PROTO_INCLUDE_DIRS) walk(dir, '');
  return index;
}

/** The message type by full name (`envoy.config.cluster.v3.Cluster`), loading its file if needed. */
export function lookupType(fullName: string): protobuf.Type {
  const name = fullName.replace(/^\./, '');
  const r = getRoot();
  const found = r.lookup(name);
  if (found instanceof protobuf.Type) return found;
  typeIndex ??= buildTypeIndex();
  const file = typeIndex.get(name);
  if (file) {
    loadProtoFiles([file]);
    const loaded = r.lookup(name);
    if (loaded instanceof protobuf.Type) return loaded;
  }
  throw new EncodeError(`unknown message type ${name}: not in the bundled Envoy API protos (a snapshot from 2024)`);
}

type Json = unknown;
type Plain = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const fieldMaps = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
/** Fields by proto name and by JSON (lowerCamelCase) name, as proto3 JSON parsers accept both. */
function fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
  let map = fieldMaps.get(type);
  if (!map) {
    map = new Map();
    for (const f of type.fieldsArray) {
      map.set(f.name, f);
      const jsonName = (f.options as Record<string, unknown> | undefined)?.json_name;
      map.set(typeof jsonName === 'string' ? jsonName : camel(f.name), f);
    }
    fieldMaps.set(type, map);
  }
  return map;
}

/** The loaded name of a field (protobufjs's bundled well-known types use camelCase names). */
function fieldName(type: protobuf.Type, protoName: string): string {
  const f = fieldsOf(type).get(protoName) ?? fieldsOf(type).get(camel(protoName));
  if (!f) throw new Error(`${type.fullName} has no field ${protoName}`);
  return f.name;
}

const fail = (at: string, msg: string): never => {
  throw new EncodeError(`${at}: ${msg}`);
};

const WRAPPERS = new Set(
  ['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`),
);
/** Well-known types whose JSON form is not an object of their fields. */
const SPECIAL_JSON = new Set([
  ...WRAPPERS,
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.FieldMask',
]);

/** Zero fields left out, as a proto3 encoder would (and `-0` never appears). */
function secondsNanos(seconds: number, nanos: number): { seconds?: number; nanos?: number } {
  return { ...(seconds ? { seconds } : {}), ...(nanos ? { nanos } : {}) };
}

/** "10s", "0.5s", "-1.000000001s" → {seconds, nanos}. */
export function parseDuration(text: string, at = 'duration'): { seconds?: number; nanos?: number } {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!m) return fail(at, `invalid duration ${JSON.stringify(text)} (expected e.g. "10s" or "0.5s")`);
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  if (seconds > 315576000000) fail(at, `duration ${text} out of range`);
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return secondsNanos(sign * seconds, sign * nanos);
}

function parseTimestamp(text: string, at: string): { seconds?: number; nanos?: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) return fail(at, `invalid timestamp ${JSON.stringify(text)} (expected RFC 3339)`);
  return secondsNanos(Math.floor(ms / 1000), m[2] ? Number(m[2].padEnd(9, '0')) : 0);
}

const INT_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function convertScalar(type: string, value: Json, at: string): unknown {
  if (INT_TYPES.has(type)) {
    if (typeof value === 'number' && Number.isInteger(value)) {
      if (type.startsWith('u') || type === 'fixed32' || type === 'fixed64') {
        if (value < 0) fail(at, `${type} must not be negative`);
      }
      return value;
    }
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return type.endsWith('64') ? value : Number(value);
    return fail(at, `expected an integer (${type}), got ${JSON.stringify(value)}`);
  }
  switch (type) {
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && (['NaN', 'Infinity', '-Infinity'].includes(value) || (value.trim() !== '' && !Number.isNaN(Number(value))))) return Number(value);
      return fail(at, `expected a number (${type}), got ${JSON.stringify(value)}`);
    case 'bool':
      if (typeof value === 'boolean') return value;
      return fail(at, `expected true or false, got ${JSON.stringify(value)}`);
    case 'string':
      if (typeof value === 'string') return value;
      return fail(at, `expected a string, got ${JSON.stringify(value)}`);
    case 'bytes':
      if (typeof value === 'string' || value instanceof Uint8Array) return value;
      return fail(at, 'expected base64 bytes');
    default:
      return fail(at, `unsupported scalar type ${type}`);
  }
}

function convertEnum(e: protobuf.Enum, value: Json, at: string): number {
  if (value === null && e.fullName === '.google.protobuf.NullValue') return 0;
  if (typeof value === 'string') {
    const n = e.values[value];
    if (n === undefined) fail(at, `unknown ${e.fullName.slice(1)} value ${JSON.stringify(value)} (known: ${Object.keys(e.values).join(', ')})`);
    return n;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  return fail(at, `expected an enum name of ${e.fullName.slice(1)}, got ${JSON.stringify(value)}`);
}

function toStructValue(type: protobuf.Type, value: Json, at: string): Plain {
  const f = (n: string) => fieldName(type, n);
  if (value === null) return { [f('null_value')]: 0 };
  if (typeof value === 'number') return { [f('number_value')]: value };
  if (typeof value === 'string') return { [f('string_value')]: value };
  if (typeof value === 'boolean') return { [f('bool_value')]: value };
  const r = getRoot();
  if (Array.isArray(value)) return { [f('list_value')]: toListValue(r.lookupType('google.protobuf.ListValue'), value, at) };
  if (isPlainObject(value)) return { [f('struct_value')]: toStruct(r.lookupType('google.protobuf.Struct'), value, at) };
  return fail(at, `not representable as google.protobuf.Value: ${String(value)}`);
}

function toStruct(type: protobuf.Type, value: Json, at: string): Plain {
  if (!isPlainObject(value)) return fail(at, 'expected an object (google.protobuf.Struct)');
  const valueType = getRoot().lookupType('google.protobuf.Value');
  const fields: Plain = {};
  for (const [k, v] of Object.entries(value)) fields[k] = toStructValue(valueType, v, `${at}.${k}`);
  return { [fieldName(type, 'fields')]: fields };
}

function toListValue(type: protobuf.Type, value: Json, at: string): Plain {
  if (!Array.isArray(value)) return fail(at, 'expected an array (google.protobuf.ListValue)');
  const valueType = getRoot().lookupType('google.protobuf.Value');
  return { [fieldName(type, 'values')]: value.map((v, i) => toStructValue(valueType, v, `${at}[${i}]`)) };
}

/** JSON of a message type → an object protobufjs's fromObject takes. */
function convertMessage(type: protobuf.Type, value: Json, at: string): Plain {
  const name = type.fullName;
  if (name === '.google.protobuf.Any') {
    if (!isPlainObject(value)) return fail(at, 'expected an object with "@type" (google.protobuf.Any)');
    if (typeof value['@type'] === 'string') return { ...encodeAnyAt(value, at) };
    return plainMessage(type, value, at);
  }
  if (name === '.google.protobuf.Duration' && typeof value === 'string') return parseDuration(value, at);
  if (name === '.google.protobuf.Timestamp' && typeof value === 'string') return parseTimestamp(value, at);
  if (WRAPPERS.has(name) && !isPlainObject(value)) {
    const f = type.fields[fieldName(type, 'value')]!;
    return { [f.name]: convertScalar(f.type, value, at) };
  }
  if (name === '.google.protobuf.Struct') return toStruct(type, value, at);
  if (name === '.google.protobuf.Value') return toStructValue(type, value, at);
  if (name === '.google.protobuf.ListValue') return toListValue(type, value, at);
  if (name === '.google.protobuf.FieldMask' && typeof value === 'string') {
    return { [fieldName(type, 'paths')]: value === '' ? [] : value.split(',').map((p) => p.split('.').map(snake).join('.')) };
  }
  return plainMessage(type, value, at);
}

function convertFieldValue(field: protobuf.Field, value: Json, at: string): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return convertMessage(rt, value, at);
  if (rt instanceof protobuf.Enum) return convertEnum(rt, value, at);
  return convertScalar(field.type, value, at);
}

function unknownField(type: protobuf.Type, key: string, at: string): never {
  if (key === '@type') fail(at, `"@type" is only valid in a google.protobuf.Any field, not in ${type.fullName.slice(1)}`);
  return fail(at, `unknown field "${key}" in ${type.fullName.slice(1)} (not in the bundled 2024 Envoy API protos?)`);
}

function plainMessage(type: protobuf.Type, value: Json, at: string): Plain {
  if (!isPlainObject(value)) return fail(at, `expected an object (${type.fullName.slice(1)}), got ${JSON.stringify(value)}`);
  const fields = fieldsOf(type);
  const out: Plain = {};
  for (const [key, v] of Object.entries(value)) {
    const here = `${at}.${key}`;
    const field = fields.get(key) ?? unknownField(type, key, here);
    if (field.name in out) fail(here, `field ${field.name} given twice`);
    // proto3 JSON: null means "not set" (except for google.protobuf.Value, where it is a value).
    if (v === null && field.resolvedType?.fullName !== '.google.protobuf.Value') continue;
    if (field.map) {
      if (!isPlainObject(v)) fail(here, 'expected an object (map)');
      const m: Plain = {};
      for (const [k, mv] of Object.entries(v as Plain)) m[k] = convertFieldValue(field, mv, `${here}[${JSON.stringify(k)}]`);
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v)) fail(here, 'expected an array');
      out[field.name] = (v as Json[]).map((item, i) => convertFieldValue(field, item, `${here}[${i}]`));
    } else {
      out[field.name] = convertFieldValue(field, v, here);
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => f.name in out).map((f) => f.name);
    if (set.length > 1) fail(at, `only one of ${set.join(', ')} may be set (oneof ${oneof.name})`);
  }
  return out;
}

/** Encodes JSON of the named message type to protobuf bytes. */
export function encodeMessage(typeName: string, json: unknown, at: string = typeName.split('.').pop()!): Buffer {
  const type = lookupType(typeName);
  const plain = convertMessage(type, json, at);
  const bytes = type.encode(type.fromObject(plain)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

function encodeAnyAt(json: Plain, at: string): AnyMessage {
  const typeUrl = json['@type'] as string;
  const typeName = typeNameOf(typeUrl);
  if (!typeName) fail(at, `invalid @type ${JSON.stringify(typeUrl)}`);
  let type: protobuf.Type;
  try {
    type = lookupType(typeName);
  } catch (err) {
    return fail(at, (err as Error).message);
  }
  const { '@type': _omit, ...fields } = json;
  void _omit;
  // Well-known types with a non-object JSON form sit under "value" inside an Any.
  const payload = SPECIAL_JSON.has(type.fullName) ? fields.value : fields;
  return { type_url: typeUrl.includes('/') ? typeUrl : TYPE_URL_PREFIX + typeUrl, value: encodeMessage(typeName, payload, `${at}<${typeName.split('.').pop()}>`) };
}

/** `{'@type': 'type.googleapis.com/…', …fields}` → google.protobuf.Any. */
export function encodeAny(json: Record<string, unknown>): AnyMessage {
  if (typeof json['@type'] !== 'string') throw new EncodeError('"@type" is required to encode an Any');
  return encodeAnyAt(json, '');
}

/** A resource of the given type (JSON without "@type", as in Envoy's static config) → Any. */
export function toAny(typeUrl: string, json: unknown): AnyMessage {
  const typeName = typeNameOf(typeUrl);
  return { type_url: TYPE_URL_PREFIX + typeName, value: encodeMessage(typeName, json, isPlainObject(json) && typeof json.name === 'string' ? json.name : typeName.split('.').pop()) };
}

/** Any → JSON-like object with `@type` (nested Anys expanded); for tests and diagnostics. */
export function decodeAny(any: { type_url: string; value: Uint8Array }): Record<string, unknown> {
  const type = lookupType(typeNameOf(any.type_url));
  const obj = type.toObject(type.decode(any.value), { json: true, enums: String, longs: String, defaults: false });
  return { '@type': any.type_url, ...obj };
}
