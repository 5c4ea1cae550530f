import type * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import type {
  CommonResponse,
  HeaderMap,
  HeaderMutation,
  HeaderValue,
  HttpBody,
  HttpHeaders,
  ProcessingMode,
  ProcessingRequest,
  ProcessingResponse,
  Struct,
  StructValue,
} from './messages';
import { loadProtoRoot } from './protos';
import { bufferReader, enumValues, fieldTags, readText, subEnd, textRegion, type TextRegion } from './wire';

/**
 * The ext_proc hot path's wire codec: ProcessingRequest bytes straight to the plain shapes of
 * messages.ts, and ProcessingResponse shapes straight to bytes, on protobufjs's Reader and
 * Writer. proto-loader's generic path decodes every field into Message objects,
 * then copies them again with toObject (and fromObject on the way out); here only what the
 * processor reads is materialised, and unread fields are skipped.
 *
 * Field tags and enum numbers are not written out by hand: they come from the reflection types
 * of Envoy's .proto files (loaded once, below), so a misspelt field fails at load time.
 */

export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';

const EP = 'envoy.service.ext_proc.v3';

/**
 * Envoy 1.40's FULL_DUPLEX_STREAMED body mode and its StreamedBodyResponse, which the proto
 * snapshot predates (proto/README.md): numbers as in Envoy's external_processor.proto and
 * processing_mode.proto. The processor ends a stream early with it (src/core/exchange.ts).
 */
function addFullDuplex(r: protobuf.Root): void {
  const streamed = new protobuf.Type('StreamedBodyResponse').add(new protobuf.Field('body', 1, 'bytes')).add(new protobuf.Field('end_of_stream', 2, 'bool'));
  (r.lookup(EP) as protobuf.Namespace).add(streamed);
  r.lookupType(`${EP}.BodyMutation`).add(new protobuf.Field('streamed_response', 3, 'StreamedBodyResponse'));
  const modes = r.lookupEnum('envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode');
  if (modes.values.FULL_DUPLEX_STREAMED === undefined) modes.add('FULL_DUPLEX_STREAMED', 4);
}

const root = loadProtoRoot([EXT_PROC_PROTO], addFullDuplex);

const REQ = fieldTags(root, `${EP}.ProcessingRequest`, [
  'request_headers',
  'response_headers',
  'request_body',
  'response_body',
  'request_trailers',
  'response_trailers',
  'metadata_context',
  'attributes',
]);
const HTTP_HEADERS = fieldTags(root, `${EP}.HttpHeaders`, ['headers', 'end_of_stream']);
const HTTP_BODY = fieldTags(root, `${EP}.HttpBody`, ['body', 'end_of_stream']);
const HEADER_MAP = fieldTags(root, 'envoy.config.core.v3.HeaderMap', ['headers']);
const HEADER_VALUE = fieldTags(root, 'envoy.config.core.v3.HeaderValue', ['key', 'value', 'raw_value']);
const HEADER_VALUE_OPTION = fieldTags(root, 'envoy.config.core.v3.HeaderValueOption', ['header', 'append_action']);
const METADATA = fieldTags(root, 'envoy.config.core.v3.Metadata', ['filter_metadata']);
// protobufjs's own google.protobuf types have camelCase field names.
const STRUCT = fieldTags(root, 'google.protobuf.Struct', ['fields']);
const VALUE = fieldTags(root, 'google.protobuf.Value', ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue']);
const LIST_VALUE = fieldTags(root, 'google.protobuf.ListValue', ['values']);
const RES = fieldTags(root, `${EP}.ProcessingResponse`, [
  'request_headers',
  'response_headers',
  'request_body',
  'response_body',
  'request_trailers',
  'response_trailers',
  'immediate_response',
  'dynamic_metadata',
  'mode_override',
]);
const HEADERS_RESPONSE = fieldTags(root, `${EP}.HeadersResponse`, ['response']);
const BODY_RESPONSE = fieldTags(root, `${EP}.BodyResponse`, ['response']);
const COMMON = fieldTags(root, `${EP}.CommonResponse`, ['status', 'header_mutation', 'body_mutation', 'clear_route_cache']);
const BODY_MUTATION = fieldTags(root, `${EP}.BodyMutation`, ['body', 'streamed_response']);
const STREAMED_BODY = fieldTags(root, `${EP}.StreamedBodyResponse`, ['body', 'end_of_stream']);
const HEADER_MUTATION = fieldTags(root, `${EP}.HeaderMutation`, ['set_headers', 'remove_headers']);
const IMMEDIATE = fieldTags(root, `${EP}.ImmediateResponse`, ['status', 'headers', 'body', 'details']);
const HTTP_STATUS = fieldTags(root, 'envoy.type.v3.HttpStatus', ['code']);
const MODE = fieldTags(root, 'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode', [
  'request_header_mode',
  'response_header_mode',
  'request_body_mode',
  'response_body_mode',
  'request_trailer_mode',
  'response_trailer_mode',
]);
// Map entries are messages of key = 1, value = 2.
const MAP_KEY = (1 << 3) | 2;
const MAP_VALUE = (2 << 3) | 2;

const RESPONSE_STATUS = enumValues(root, `${EP}.CommonResponse.ResponseStatus`);
const APPEND_ACTION = enumValues(root, 'envoy.config.core.v3.HeaderValueOption.HeaderAppendAction');
const HEADER_SEND_MODE = enumValues(root, 'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.HeaderSendMode');
const BODY_SEND_MODE = enumValues(root, 'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode');
const NULL_VALUE = 'NULL_VALUE';

// ---------------------------------------------------------------------------------------------
// Decoding

function checkDepth(depth: number): void {
  if (depth > protobuf.Reader.recursionLimit) throw new Error('protobuf: maximum nesting depth exceeded');
}

/**
 * A header's text goes in `value`: Envoy's raw_value bytes decoded as UTF-8 when not empty, else
 * its `value` (what session.ts's toHeaders picked from the two); raw_value is left unset.
 */
function decodeHeaderValue(r: protobuf.Reader, end: number, region: TextRegion): HeaderValue {
  let key = '';
  let value: string | undefined;
  let raw: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === HEADER_VALUE.key) key = readText(r, region);
    else if (tag === HEADER_VALUE.raw_value) raw = readText(r, region);
    else if (tag === HEADER_VALUE.value) value = readText(r, region);
    else r.skipType(tag & 7);
  }
  return { key, value: raw || value || '' };
}

function decodeHeaderMap(r: protobuf.Reader, end: number): HeaderMap {
  const map: HeaderMap = {};
  const region = textRegion(r, end);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === HEADER_MAP.headers) (map.headers ??= []).push(decodeHeaderValue(r, subEnd(r), region));
    else r.skipType(tag & 7);
  }
  return map;
}

function decodeHttpHeaders(r: protobuf.Reader, end: number): HttpHeaders {
  const m: HttpHeaders = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === HTTP_HEADERS.headers) m.headers = decodeHeaderMap(r, subEnd(r));
    else if (tag === HTTP_HEADERS.end_of_stream) m.end_of_stream = r.bool();
    else r.skipType(tag & 7); // the deprecated per-message attributes
  }
  return m;
}

function decodeHttpBody(r: protobuf.Reader, end: number): HttpBody {
  const m: HttpBody = {};
  while (r.pos < end) {
    const tag = r.uint32();
    // A view into the gRPC message, not a copy.
    if (tag === HTTP_BODY.body) m.body = r.bytes() as Buffer;
    else if (tag === HTTP_BODY.end_of_stream) m.end_of_stream = r.bool();
    else r.skipType(tag & 7);
  }
  return m;
}

function decodeValue(r: protobuf.Reader, end: number, depth: number, region: TextRegion): StructValue {
  checkDepth(depth);
  const v: StructValue = {};
  while (r.pos < end) {
    const tag = r.uint32();
    // A oneof: the last one on the wire wins.
    if (tag === VALUE.stringValue) setKind(v, 'stringValue', readText(r, region));
    else if (tag === VALUE.numberValue) setKind(v, 'numberValue', r.double());
    else if (tag === VALUE.boolValue) setKind(v, 'boolValue', r.bool());
    else if (tag === VALUE.structValue) setKind(v, 'structValue', decodeStruct(r, subEnd(r), depth + 1, region));
    else if (tag === VALUE.listValue) setKind(v, 'listValue', decodeList(r, subEnd(r), depth + 1, region));
    else if (tag === VALUE.nullValue) {
      r.skip();
      setKind(v, 'nullValue', NULL_VALUE);
    } else r.skipType(tag & 7);
  }
  return v;
}

function setKind<K extends keyof StructValue>(v: StructValue, kind: K, value: StructValue[K]): void {
  for (const k in v) delete v[k as keyof StructValue];
  v[kind] = value;
}

function decodeList(r: protobuf.Reader, end: number, depth: number, region: TextRegion): { values: StructValue[] } {
  const values: StructValue[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === LIST_VALUE.values) values.push(decodeValue(r, subEnd(r), depth, region));
    else r.skipType(tag & 7);
  }
  return { values };
}

function decodeStruct(r: protobuf.Reader, end: number, depth: number, region: TextRegion): Struct {
  checkDepth(depth);
  const fields: Struct['fields'] = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag !== STRUCT.fields) {
      r.skipType(tag & 7);
      continue;
    }
    const entryEnd = subEnd(r);
    let key = '';
    let value: StructValue = {};
    while (r.pos < entryEnd) {
      const t = r.uint32();
      if (t === MAP_KEY) key = readText(r, region);
      else if (t === MAP_VALUE) value = decodeValue(r, subEnd(r), depth + 1, region);
      else r.skipType(t & 7);
    }
    fields[key] = value;
  }
  return { fields };
}

/** An entry of a map<string, google.protobuf.Struct>: short strings, one text region. */
function decodeStructMap(r: protobuf.Reader, end: number, into: Record<string, Struct>): void {
  const region = textRegion(r, end);
  let key = '';
  let value: Struct = { fields: {} };
  while (r.pos < end) {
    const t = r.uint32();
    if (t === MAP_KEY) key = readText(r, region);
    else if (t === MAP_VALUE) value = decodeStruct(r, subEnd(r), 1, region);
    else r.skipType(t & 7);
  }
  into[key] = value;
}

function decodeMetadata(r: protobuf.Reader, end: number): { filter_metadata?: Record<string, Struct> } {
  const m: { filter_metadata?: Record<string, Struct> } = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === METADATA.filter_metadata) decodeStructMap(r, subEnd(r), (m.filter_metadata ??= {}));
    else r.skipType(tag & 7); // typed_filter_metadata
  }
  return m;
}

type Phase = NonNullable<ProcessingRequest['request']>;

function setRequest(msg: ProcessingRequest, phase: Phase, value: HttpHeaders | HttpBody | Record<string, never>): void {
  if (msg.request && msg.request !== phase) delete msg[msg.request];
  msg.request = phase;
  (msg as Record<Phase, unknown>)[phase] = value;
}

/** envoy.service.ext_proc.v3.ProcessingRequest, as Envoy sends it, to the shape of messages.ts. */
export function decodeProcessingRequest(buf: Uint8Array): ProcessingRequest {
  const r = bufferReader(buf);
  const msg: ProcessingRequest = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case REQ.request_headers:
        setRequest(msg, 'request_headers', decodeHttpHeaders(r, subEnd(r)));
        break;
      case REQ.request_body:
        setRequest(msg, 'request_body', decodeHttpBody(r, subEnd(r)));
        break;
      case REQ.response_headers:
        setRequest(msg, 'response_headers', decodeHttpHeaders(r, subEnd(r)));
        break;
      case REQ.response_body:
        setRequest(msg, 'response_body', decodeHttpBody(r, subEnd(r)));
        break;
      case REQ.request_trailers:
      case REQ.response_trailers:
        // The processor answers trailers without reading them.
        r.skipType(2);
        setRequest(msg, tag === REQ.request_trailers ? 'request_trailers' : 'response_trailers', {});
        break;
      case REQ.metadata_context:
        msg.metadata_context = decodeMetadata(r, subEnd(r));
        break;
      case REQ.attributes:
        decodeStructMap(r, subEnd(r), (msg.attributes ??= {}) as Record<string, Struct>);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Encoding

// `w.uint32(tag).fork()` … `w.ldelim()` frames a nested message with its length. Fields are
// written in field-number order, as protobufjs's own encoder does, so the bytes are identical.

function emitHeaderMutation(w: protobuf.Writer, m: HeaderMutation): void {
  if (m.set_headers) {
    for (const o of m.set_headers) {
      w.uint32(HEADER_MUTATION.set_headers).fork();
      const h = o.header as HeaderValue | undefined;
      if (h != null) {
        w.uint32(HEADER_VALUE_OPTION.header).fork();
        if (h.key != null) w.uint32(HEADER_VALUE.key).string(h.key);
        if (h.value != null) w.uint32(HEADER_VALUE.value).string(h.value);
        if (h.raw_value != null) w.uint32(HEADER_VALUE.raw_value).bytes(h.raw_value);
        w.ldelim();
      }
      const action = o.append_action == null ? undefined : APPEND_ACTION[o.append_action];
      if (action !== undefined) w.uint32(HEADER_VALUE_OPTION.append_action).int32(action);
      w.ldelim();
    }
  }
  if (m.remove_headers) for (const name of m.remove_headers) w.uint32(HEADER_MUTATION.remove_headers).string(name);
}

function emitCommon(w: protobuf.Writer, c: CommonResponse): void {
  const status = c.status == null ? undefined : RESPONSE_STATUS[c.status];
  if (status !== undefined) w.uint32(COMMON.status).int32(status);
  if (c.header_mutation != null) {
    w.uint32(COMMON.header_mutation).fork();
    emitHeaderMutation(w, c.header_mutation);
    w.ldelim();
  }
  if (c.body_mutation != null) {
    w.uint32(COMMON.body_mutation).fork();
    if (c.body_mutation.body != null) w.uint32(BODY_MUTATION.body).bytes(c.body_mutation.body);
    w.ldelim();
  }
  const streamed = c.streamed_body;
  if (streamed != null) {
    w.uint32(COMMON.body_mutation).fork();
    w.uint32(BODY_MUTATION.streamed_response).fork();
    if (streamed.body.length > 0) w.uint32(STREAMED_BODY.body).bytes(streamed.body);
    if (streamed.end_of_stream) w.uint32(STREAMED_BODY.end_of_stream).bool(true);
    w.ldelim();
    w.ldelim();
  }
  if (c.clear_route_cache != null) w.uint32(COMMON.clear_route_cache).bool(c.clear_route_cache);
}

function emitValue(w: protobuf.Writer, v: StructValue): void {
  if (v.nullValue != null) w.uint32(VALUE.nullValue).int32(0);
  if (v.numberValue != null) w.uint32(VALUE.numberValue).double(v.numberValue);
  if (v.stringValue != null) w.uint32(VALUE.stringValue).string(v.stringValue);
  if (v.boolValue != null) w.uint32(VALUE.boolValue).bool(v.boolValue);
  if (v.structValue != null) {
    w.uint32(VALUE.structValue).fork();
    emitStruct(w, v.structValue);
    w.ldelim();
  }
  if (v.listValue != null) {
    w.uint32(VALUE.listValue).fork();
    for (const item of v.listValue.values ?? []) {
      w.uint32(LIST_VALUE.values).fork();
      emitValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  }
}

/** google.protobuf.Struct's fields (the caller frames the Struct). */
export function emitStruct(w: protobuf.Writer, s: Struct): void {
  const fields = s.fields;
  if (fields == null) return;
  for (const key of Object.keys(fields)) {
    w.uint32(STRUCT.fields).fork();
    w.uint32(MAP_KEY).string(key);
    w.uint32(MAP_VALUE).fork();
    emitValue(w, fields[key]);
    w.ldelim();
    w.ldelim();
  }
}

/** ProcessingMode's fields in field-number order, each with its enum. */
const MODE_FIELDS = (
  [
    ['request_header_mode', HEADER_SEND_MODE],
    ['response_header_mode', HEADER_SEND_MODE],
    ['request_body_mode', BODY_SEND_MODE],
    ['response_body_mode', BODY_SEND_MODE],
    ['request_trailer_mode', HEADER_SEND_MODE],
    ['response_trailer_mode', HEADER_SEND_MODE],
  ] as const
).map(([name, values]) => ({ name, tag: MODE[name], values }));

function emitMode(w: protobuf.Writer, m: ProcessingMode): void {
  for (const { name, tag, values } of MODE_FIELDS) {
    const value = m[name];
    const n = value == null ? undefined : values[value];
    if (n !== undefined) w.uint32(tag).int32(n);
  }
}

const PHASES = ['request_headers', 'response_headers', 'request_body', 'response_body'] as const;
const TRAILER_PHASES = ['request_trailers', 'response_trailers'] as const;

function emitProcessingResponse(w: protobuf.Writer, msg: ProcessingResponse): void {
  for (const phase of PHASES) {
    const reply = msg[phase];
    if (reply == null) continue;
    w.uint32(RES[phase]).fork();
    if (reply.response != null) {
      w.uint32(phase.endsWith('headers') ? HEADERS_RESPONSE.response : BODY_RESPONSE.response).fork();
      emitCommon(w, reply.response);
      w.ldelim();
    }
    w.ldelim();
  }
  for (const phase of TRAILER_PHASES) if (msg[phase] != null) w.uint32(RES[phase]).uint32(0);
  const im = msg.immediate_response;
  if (im != null) {
    w.uint32(RES.immediate_response).fork();
    if (im.status != null) {
      w.uint32(IMMEDIATE.status).fork();
      if (im.status.code != null) w.uint32(HTTP_STATUS.code).int32(im.status.code);
      w.ldelim();
    }
    if (im.headers != null) {
      w.uint32(IMMEDIATE.headers).fork();
      emitHeaderMutation(w, im.headers);
      w.ldelim();
    }
    if (im.body != null) w.uint32(IMMEDIATE.body).bytes(im.body);
    if (im.details != null) w.uint32(IMMEDIATE.details).string(im.details);
    w.ldelim();
  }
  if (msg.dynamic_metadata != null) {
    w.uint32(RES.dynamic_metadata).fork();
    emitStruct(w, msg.dynamic_metadata);
    w.ldelim();
  }
  if (msg.mode_override != null) {
    w.uint32(RES.mode_override).fork();
    emitMode(w, msg.mode_override);
    w.ldelim();
  }
}

/** The shape of messages.ts to envoy.service.ext_proc.v3.ProcessingResponse bytes. */
export function encodeProcessingResponse(msg: ProcessingResponse): Buffer {
  const w = protobuf.Writer.create();
  emitProcessingResponse(w, msg);
  return w.finish() as Buffer;
}

/**
 * The ExternalProcessor service definition proto-loader builds, with the server's side (decode
 * requests, encode responses) on the codec above. The client side stays proto-loader's: only
 * tests and tools call this service from Node.
 */
export function withExtProcCodec(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return {
    ...definition,
    Process: {
      ...definition.Process,
      requestDeserialize: decodeProcessingRequest,
      responseSerialize: encodeProcessingResponse,
    },
  } as grpc.ServiceDefinition;
}
