import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../src';

/**
 * Cache keys: the normalised request as canonical JSON (object keys sorted at every level, array
 * order kept), hashed together with the endpoint and the scope, so two requests share an entry
 * exactly when they would get the same answer from the same tenant.
 */

/**
 * Top-level request fields that do not change the answer: who asks (`user`, `safety_identifier`),
 * how it is delivered (`stream`, `stream_options`: a cached answer is replayed in either form),
 * and provider-side bookkeeping (`store`, `metadata`, `prompt_cache_key`).
 */
export const IGNORED_FIELDS: ReadonlySet<string> = new Set(['user', 'safety_identifier', 'stream', 'stream_options', 'store', 'metadata', 'prompt_cache_key']);

/** JSON with object keys sorted at every level: equal values, equal text. */
export function canonicalJson(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
}

/**
 * The request as far as the answer depends on it: the body without the ignored fields, and
 * without top-level nulls (OpenAI reads `"temperature": null` as not sent).
 */
export function normaliseRequest(body: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === null || v === undefined || IGNORED_FIELDS.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Who shares entries: a team, else a single key (or identity), else every anonymous caller. */
export type Scope = { team: string } | { key: string } | { global: true };

/** The entry's key: SHA-256 (hex) of the scope, endpoint and normalised request. */
export function cacheKey(scope: Scope, endpoint: string, body: JsonObject): string {
  const material = canonicalJson({ v: 1, scope: scope as unknown as JsonObject, endpoint, request: normaliseRequest(body) });
  return createHash('sha256').update(material).digest('hex');
}
