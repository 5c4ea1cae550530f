/**
 * OpenAI-style errors. Every error the gateway produces has the shape
 * `{"error":{"message","type","param","code"}}` that the OpenAI SDKs parse. The codes it sends
 * are catalogued in ./error-codes (ERROR_CODES, docs/errors.md).
 */

import type { ErrorCode, OpenAIErrorType } from './error-codes';

/** A catalogued code (offered by autocompletion), or any other string: plugins may send their own. */
export type GatewayErrorCode = ErrorCode | (string & {});

export type { OpenAIErrorType };

export type OpenAIErrorBody = {
  error: { message: string; type: OpenAIErrorType | string; param: string | null; code: string | null };
};

const TYPE_FOR_STATUS: Record<number, OpenAIErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function errorTypeForStatus(status: number): OpenAIErrorType {
  return TYPE_FOR_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

/** Codes whose type OpenAI does not derive from the status: an unknown URL is a 404 `invalid_request_error`. */
const TYPE_FOR_CODE: Readonly<Record<string, OpenAIErrorType>> = { unknown_url: 'invalid_request_error' };

/** The `type` OpenAI sends with this status and code. */
export function errorType(status: number, code: string | null): OpenAIErrorType {
  return (code !== null && Object.hasOwn(TYPE_FOR_CODE, code) ? TYPE_FOR_CODE[code] : undefined) ?? errorTypeForStatus(status);
}

/**
 * An error that becomes an HTTP response. Plugins throw it to reject a request on purpose
 * (as opposed to failing), and the core turns it into the JSON body above.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: GatewayErrorCode | null,
    message: string,
    opts: { type?: string; param?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.code = code;
    this.type = opts.type ?? errorType(status, code);
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function errorBody(status: number, code: GatewayErrorCode | null, message: string, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: errorType(status, code), param, code } };
}

/**
 * Recognises a GatewayError by shape as well as by class: a plugin bundling its own copy of
 * this package throws an instance of a different class with the same meaning.
 */
export function isGatewayError(err: unknown): err is GatewayError {
  if (err instanceof GatewayError) return true;
  const e = err as Partial<GatewayError> | null;
  return Boolean(e && e.name === 'GatewayError' && typeof e.status === 'number' && typeof e.toBody === 'function');
}
