import type { HttpRequestSpec } from '../raw-http';

/** One malformed or hostile request of the corpus and what the gateway must answer. */
export interface HostileCase {
  group: string;
  name: string;
  /** A request to serialise, or bytes sent as they are. */
  request: HttpRequestSpec | { raw: Buffer | string };
  /** The exact status, where the case pins it down (otherwise any 4xx). */
  status?: number;
  /** The `param` and `code` of the error, for request validation cases. */
  param?: string | null;
  code?: string;
  /**
   * A documented exception to "4xx": SQL injection in a free-text filter is just a filter
   * value, so the answer is 200 with an empty `data` list (no row matched, none leaked).
   */
  emptyList?: boolean;
  /** Either a 4xx error or, as with `emptyList`, 200 with nothing found (APIs whose filter may be free text). */
  emptyListOr4xx?: boolean;
  /** HEAD requests get no body. */
  head?: boolean;
}

/** The credentials the corpus may present, and which optional admin APIs the gateway has. */
export interface CorpusKeys {
  admin: string;
  client: string;
  langchain: string;
  /** GET /v1/audit exists (it is added by another part of this work). */
  audit: boolean;
  /** GET /v1/security/config exists. */
  securityConfig: boolean;
}

/** A corpus generator: one family of hostile requests, many variants. */
export type Generator = (keys: CorpusKeys) => HostileCase[];

export const json = (key: string | undefined, extra: Record<string, string | Buffer> = {}): Record<string, string | Buffer> => ({
  'content-type': 'application/json',
  ...(key ? { authorization: `Bearer ${key}` } : {}),
  ...extra,
});
