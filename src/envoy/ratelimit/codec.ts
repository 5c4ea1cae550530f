import * as protobuf from 'protobufjs';
import { loadProtoRoot } from '../extproc/protos';
import { bufferReader, enumValues, fieldTags, readText, subEnd, textRegion, type TextRegion } from '../extproc/wire';
import type { DescriptorEntry } from '../../ratelimit/descriptors';
import type { RateLimitRequest, RateLimitResponse } from '../../ratelimit/limiter';

/**
 * The RateLimitService's wire codec, as for ext_proc (src/envoy/extproc/codec.ts): RateLimitRequest
 * bytes straight to the shape service.ts reads (as proto-loader gave it: snake_case, the
 * descriptors' UInt64Value hits_addend as `{ value: '<decimal>' }`), RateLimitResponse straight
 * to bytes; tags and enums from the reflection types.
 */

export const RLS_PROTO = 'envoy/service/ratelimit/v3/rls.proto';

/**
 * envoy.service.ratelimit.v3, from the API snapshot @grpc/grpc-js-xds ships, brought up to the
 * Envoy the gateway runs: since Envoy 1.33 each RateLimitDescriptor carries its own
 * `hits_addend` (field 3, google.protobuf.UInt64Value; what route policies' `hits_addend` fill
 * in) and `is_negative_hits` (4). Without them the token counts Envoy sends would be dropped
 * as unknown fields.
 */
export const rlsRoot = loadProtoRoot([RLS_PROTO], (root) => {
  const descriptor = root.lookupType('envoy.extensions.common.ratelimit.v3.RateLimitDescriptor');
  if (!descriptor.fields.hits_addend) descriptor.add(new protobuf.Field('hits_addend', 3, 'google.protobuf.UInt64Value'));
  if (!descriptor.fields.is_negative_hits) descriptor.add(new protobuf.Field('is_negative_hits', 4, 'bool'));
});

const RLS = 'envoy.service.ratelimit.v3';
const REQUEST = fieldTags(rlsRoot, `${RLS}.RateLimitRequest`, ['domain', 'descriptors', 'hits_addend']);
const DESCRIPTOR = fieldTags(rlsRoot, 'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor', ['entries', 'hits_addend']);
const ENTRY = fieldTags(rlsRoot, 'envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.Entry', ['key', 'value']);
const UINT64_VALUE = fieldTags(rlsRoot, 'google.protobuf.UInt64Value', ['value']);
const RESPONSE = fieldTags(rlsRoot, `${RLS}.RateLimitResponse`, ['overall_code', 'statuses', 'response_headers_to_add', 'raw_body']);
const STATUS = fieldTags(rlsRoot, `${RLS}.RateLimitResponse.DescriptorStatus`, ['code', 'current_limit', 'limit_remaining', 'duration_until_reset']);
const RATE_LIMIT = fieldTags(rlsRoot, `${RLS}.RateLimitResponse.RateLimit`, ['requests_per_unit', 'unit', 'name']);
const DURATION = fieldTags(rlsRoot, 'google.protobuf.Duration', ['seconds', 'nanos']);
const HEADER_VALUE = fieldTags(rlsRoot, 'envoy.config.core.v3.HeaderValue', ['key', 'value']);
const CODE = enumValues(rlsRoot, `${RLS}.RateLimitResponse.Code`);
const UNIT = enumValues(rlsRoot, `${RLS}.RateLimitResponse.RateLimit.Unit`);

type Descriptor = NonNullable<RateLimitRequest['descriptors']>[number];

function decodeEntry(r: protobuf.Reader, end: number, region: TextRegion): DescriptorEntry {
  const e: DescriptorEntry = { key: '', value: '' };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ENTRY.key) e.key = readText(r, region);
    else if (tag === ENTRY.value) e.value = readText(r, region);
    else r.skipType(tag & 7);
  }
  return e;
}

/** google.protobuf.UInt64Value: `{}` for an explicit 0 (distinct from no hits_addend at all). */
function decodeUInt64Value(r: protobuf.Reader, end: number): { value?: string } {
  const v: { value?: string } = {};
  while (r.pos < end) {
    const tag = r.uint32();
    // A Long (unsigned) when protobufjs has long.js, else a number: both print as decimal.
    if (tag === UINT64_VALUE.value) v.value = String(r.uint64());
    else r.skipType(tag & 7);
  }
  return v;
}

function decodeDescriptor(r: protobuf.Reader, end: number, region: TextRegion): Descriptor {
  const d: Descriptor = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === DESCRIPTOR.entries) (d.entries ??= []).push(decodeEntry(r, subEnd(r), region));
    else if (tag === DESCRIPTOR.hits_addend) d.hits_addend = decodeUInt64Value(r, subEnd(r));
    else r.skipType(tag & 7); // limit override, is_negative_hits
  }
  return d;
}

export function decodeRateLimitRequest(buf: Uint8Array): RateLimitRequest {
  const r = bufferReader(buf);
  // The whole request is short strings: one text region for all of them.
  const region = textRegion(r, r.len);
  const req: RateLimitRequest = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === REQUEST.domain) req.domain = readText(r, region);
    else if (tag === REQUEST.descriptors) (req.descriptors ??= []).push(decodeDescriptor(r, subEnd(r), region));
    else if (tag === REQUEST.hits_addend) req.hits_addend = r.uint32();
    else r.skipType(tag & 7);
  }
  return req;
}

/** Fields in field-number order, as protobufjs's own encoder writes them. */
function emitRateLimitResponse(w: protobuf.Writer, res: RateLimitResponse): void {
  const overall = CODE[res.overall_code];
  if (overall !== undefined) w.uint32(RESPONSE.overall_code).int32(overall);
  for (const s of res.statuses ?? []) {
    w.uint32(RESPONSE.statuses).fork();
    const code = CODE[s.code];
    if (code !== undefined) w.uint32(STATUS.code).int32(code);
    const limit = s.current_limit;
    if (limit != null) {
      w.uint32(STATUS.current_limit).fork();
      if (limit.requests_per_unit != null) w.uint32(RATE_LIMIT.requests_per_unit).uint32(limit.requests_per_unit);
      const unit = UNIT[limit.unit];
      if (unit !== undefined) w.uint32(RATE_LIMIT.unit).int32(unit);
      if (limit.name != null) w.uint32(RATE_LIMIT.name).string(limit.name);
      w.ldelim();
    }
    if (s.limit_remaining != null) w.uint32(STATUS.limit_remaining).uint32(s.limit_remaining);
    const reset = s.duration_until_reset;
    if (reset != null) {
      w.uint32(STATUS.duration_until_reset).fork();
      if (reset.seconds != null) w.uint32(DURATION.seconds).int64(reset.seconds);
      if (reset.nanos != null) w.uint32(DURATION.nanos).int32(reset.nanos);
      w.ldelim();
    }
    w.ldelim();
  }
  for (const h of res.response_headers_to_add ?? []) {
    w.uint32(RESPONSE.response_headers_to_add).fork();
    if (h.key != null) w.uint32(HEADER_VALUE.key).string(h.key);
    if (h.value != null) w.uint32(HEADER_VALUE.value).string(h.value);
    w.ldelim();
  }
  if (res.raw_body != null) w.uint32(RESPONSE.raw_body).bytes(res.raw_body);
}

export function encodeRateLimitResponse(res: RateLimitResponse): Buffer {
  const w = protobuf.Writer.create();
  emitRateLimitResponse(w, res);
  return w.finish() as Buffer;
}
