import type { JsonValue } from '../../domain';

/**
 * Reading untrusted JSON: the small guards every translator needs. Client bodies and provider
 * answers are `unknown` until checked here.
 */

/** A JSON object whose values are not yet checked. */
export type Obj = Record<string, unknown>;

/** A plain object: not null, not an array. */
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A finite number, else undefined. */
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A finite number, else 0 (token counts a provider may leave out). */
export const numOrZero = (v: unknown): number => num(v) ?? 0;

/** A whole number above zero, else undefined. */
export const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

/** A non-empty string, else undefined (ids and model names a provider may send empty). */
export const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** The value a JSON text holds, or undefined when it is not JSON (JSON itself has no undefined). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A typed OpenAI shape handed back as the JSON the translator contract returns. */
export const asJson = <T>(v: T): JsonValue => v as unknown as JsonValue;
