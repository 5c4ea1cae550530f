import type http from 'node:http';

/** The admin API's requests and responses, as its handlers see them. */

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  /** Values of `:name` segments in the route's path. */
  params: Record<string, string>;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Sent as is (e.g. Prometheus text) instead of JSON. */
  raw?: string;
}

export type AdminHandler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

/** Reads a request's body once: the parsed JSON, or the response refusing it (413, 400). */
export type BodyReader = () => Promise<{ body: unknown } | AdminResponse>;
