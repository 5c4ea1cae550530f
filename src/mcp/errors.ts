import { GatewayError } from '../domain/errors';

/**
 * Gateway refusals as JSON-RPC errors. The numeric `code` follows the HTTP status the refusal
 * would have on the model endpoints (docs/mcp.md lists them); `data.code` is the gateway's
 * error code from the catalogue (src/domain/error-codes.ts), `data.status` that status.
 */
const JSON_RPC_CODES: ReadonlyMap<number, number> = new Map([
  [400, -32602], // invalid params: bad arguments, content filtered
  [401, -32040], // unauthenticated
  [403, -32003], // forbidden by the access rules
  [404, -32001], // session not found (the SDK's own code)
  [409, -32009],
  [429, -32029], // rate limited
  [502, -32052], // upstream server unavailable
  [503, -32053], // gateway unavailable (key store, session limit)
  [504, -32054], // upstream server timed out
]);

export const INTERNAL_ERROR = -32603;

export function jsonRpcCode(status: number): number {
  return JSON_RPC_CODES.get(status) ?? INTERNAL_ERROR;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data: { code: string; status: number };
}

export function toJsonRpcError(err: GatewayError): JsonRpcError {
  return { code: jsonRpcCode(err.status), message: err.message, data: { code: err.code ?? 'error', status: err.status } };
}

/**
 * What a request handler throws for the MCP SDK to answer with: the SDK sends an error's own
 * `code`, `message` and `data` (an McpError would prefix its message with its code).
 */
export function handlerError(err: GatewayError): Error {
  const e = toJsonRpcError(err);
  return Object.assign(new Error(e.message), { code: e.code, data: e.data });
}

/** JSON-RPC invalid params (an unknown namespaced name), as the SDK sends a thrown error. */
export function invalidParams(message: string): Error {
  return Object.assign(new Error(message), { code: -32602 });
}

/** A whole HTTP answer carrying one JSON-RPC error (refusals before a message reaches a session). */
export function jsonRpcErrorBody(err: GatewayError, id: string | number | null = null): { jsonrpc: '2.0'; id: string | number | null; error: JsonRpcError } {
  return { jsonrpc: '2.0', id, error: toJsonRpcError(err) };
}

export function isGatewayErrorLike(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
