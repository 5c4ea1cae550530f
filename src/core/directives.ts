import type { Published } from './published';

/** What the core tells the Envoy layer to do with the message in hand. */

/** Let the message through, with optional edits. */
export interface Continue {
  kind: 'continue';
  /** Header name → value to set, or null to remove. */
  headers?: Map<string, string | null>;
  body?: Buffer;
  clearRouteCache?: boolean;
  /** Switch the response body to streamed delivery (SSE). */
  streamResponse?: boolean;
  /**
   * With streamResponse: a stream the processor can end before the upstream does (Envoy's
   * FULL_DUPLEX_STREAMED body mode), for requests that asked for one (ctx.endableStream()).
   */
  endableStream?: boolean;
  /** In an endable stream's body: this is the client's last chunk; Envoy ends the response and cancels the upstream. */
  endStream?: boolean;
  /** What Envoy's later filters learn about the request: rate limit dimensions, token usage. */
  published?: Published;
}

/** Answer the client directly; nothing more goes upstream or downstream. */
export interface Respond {
  kind: 'respond';
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  details: string;
}

export type Directive = Continue | Respond;
