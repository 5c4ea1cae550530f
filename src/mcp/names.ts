import { MCP_SERVER_NAME_RE } from './config';

/**
 * How names from several upstream servers share one namespace at `/mcp`:
 *   - tools and prompts: `<server>__<name>` (server names never contain `__`, so the first
 *     `__` splits; the upstream name may contain more);
 *   - resources and resource templates: `mcp://<server>/<upstream uri>`, the upstream URI kept
 *     verbatim after the first `/` (server names contain no `/`).
 */
export const NAME_SEPARATOR = '__';
const URI_PREFIX = 'mcp://';

export interface Qualified {
  server: string;
  name: string;
}

export function qualifiedName(server: string, name: string): string {
  return `${server}${NAME_SEPARATOR}${name}`;
}

/** The server and upstream name of a namespaced tool or prompt name; undefined if it is not one. */
export function splitName(qualified: unknown): Qualified | undefined {
  if (typeof qualified !== 'string') return undefined;
  const at = qualified.indexOf(NAME_SEPARATOR);
  if (at <= 0) return undefined;
  const server = qualified.slice(0, at);
  const name = qualified.slice(at + NAME_SEPARATOR.length);
  return MCP_SERVER_NAME_RE.test(server) && name !== '' ? { server, name } : undefined;
}

export function qualifiedUri(server: string, uri: string): string {
  return `${URI_PREFIX}${server}/${uri}`;
}

/** The server and upstream URI of a namespaced resource URI; undefined if it is not one. */
export function splitUri(qualified: unknown): Qualified | undefined {
  if (typeof qualified !== 'string' || !qualified.startsWith(URI_PREFIX)) return undefined;
  const rest = qualified.slice(URI_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const server = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  return MCP_SERVER_NAME_RE.test(server) && name !== '' ? { server, name } : undefined;
}
