import { GatewayError, type JsonObject, type JsonValue } from '../domain';

/** Small readers for loosely typed client bodies, shared by the surfaces. */

export type Obj = JsonObject;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
export const int = (v: JsonValue | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** 400 `invalid_value` naming the client's field. */
export const invalid = (message: string, param: string, code = 'invalid_value'): GatewayError => new GatewayError(400, code, message, { param });

/** 400 `unsupported_parameter`: a field the target cannot take (named as the client wrote it). */
export const unsupported = (message: string, param: string): GatewayError => new GatewayError(400, 'unsupported_parameter', message, { param });

/** A fresh id with the API's prefix (`msg_`, `resp_`): the gateway's own, never the client's. */
export const mintId = (prefix: string): string => prefix + globalThis.crypto.randomUUID().replace(/-/g, '');

/** JSON text → value; `{}` for text that is not a JSON object (a model's broken tool arguments). */
export function parseObject(text: string | undefined): JsonObject {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}
