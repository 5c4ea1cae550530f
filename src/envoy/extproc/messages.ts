/** The subset of envoy.service.ext_proc.v3 messages the processor reads and writes. */

/**
 * Requests decoded by codec.ts carry a header's text in `value` (Envoy's raw_value bytes as
 * UTF-8) and never set raw_value; replies set raw_value, never value (both at once is a 500).
 */
export interface HeaderValue {
  key: string;
  value?: string;
  raw_value?: Buffer;
}

export interface HeaderMap {
  headers?: HeaderValue[];
}

export interface HttpHeaders {
  headers?: HeaderMap;
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Buffer;
  end_of_stream?: boolean;
}

export interface ProcessingRequest {
  request?: 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: unknown;
  response_trailers?: unknown;
  attributes?: Record<string, unknown>;
  /** Dynamic metadata of the namespaces the filter's `metadata_options.forwarding_namespaces` lists. */
  metadata_context?: { filter_metadata?: Record<string, Struct> };
}

export interface HeaderValueOption {
  header: { key: string; raw_value: Buffer };
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD';
}

export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

export interface CommonResponse {
  /** CONTINUE_AND_REPLACE in a headers reply replaces the body without Envoy sending it to us. */
  status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE';
  header_mutation?: HeaderMutation;
  body_mutation?: { body: Buffer };
  /**
   * The FULL_DUPLEX_STREAMED mode's body reply (BodyMutation.streamed_response on the wire, instead
   * of body_mutation): the chunk, and whether the body ends with it.
   */
  streamed_body?: { body: Buffer; end_of_stream?: boolean };
  clear_route_cache?: boolean;
}

export interface ProcessingResponse {
  request_headers?: { response?: CommonResponse };
  response_headers?: { response?: CommonResponse };
  request_body?: { response?: CommonResponse };
  response_body?: { response?: CommonResponse };
  request_trailers?: Record<string, never>;
  response_trailers?: Record<string, never>;
  immediate_response?: {
    status: { code: number };
    headers?: HeaderMutation;
    body?: Buffer;
    details?: string;
  };
  mode_override?: ProcessingMode;
  /** Namespace → values, for Envoy filters after ext_proc (kept only for `metadata_options.receiving_namespaces`). */
  dynamic_metadata?: Struct;
}

type HeaderSendMode = 'DEFAULT' | 'SEND' | 'SKIP';

/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode (unset body modes mean NONE). */
export interface ProcessingMode {
  request_header_mode?: HeaderSendMode;
  response_header_mode?: HeaderSendMode;
  request_body_mode?: 'NONE' | 'STREAMED' | 'BUFFERED';
  response_body_mode?: 'NONE' | 'STREAMED' | 'BUFFERED' | 'FULL_DUPLEX_STREAMED';
  request_trailer_mode?: HeaderSendMode;
  response_trailer_mode?: HeaderSendMode;
}

/** google.protobuf.Value as proto-loader shapes it (camelCase field names); one of these is set. */
export interface StructValue {
  stringValue?: string;
  numberValue?: number;
  structValue?: Struct;
  boolValue?: boolean;
  nullValue?: 'NULL_VALUE';
  listValue?: { values: StructValue[] };
}

/** google.protobuf.Struct as proto-loader shapes it (camelCase field names). */
export interface Struct {
  fields: Record<string, StructValue>;
}
