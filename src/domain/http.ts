/** Read-only, case-insensitive view of HTTP headers. */
export interface HeaderView {
  get(name: string): string | undefined;
  has(name: string): boolean;
  entries(): IterableIterator<[string, string]>;
}

/** The OpenAI API surface a request addresses, independent of the URL prefix used. */
export type Endpoint =
  | 'chat.completions'
  | 'completions'
  | 'embeddings'
  | 'models'
  | 'responses'
  /** Anthropic Messages (`/v1/messages`): the client's API, served as chat completions (src/surfaces/anthropic). */
  | 'messages'
  | 'messages.count_tokens'
  | 'unknown';
