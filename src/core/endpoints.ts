import type { Endpoint } from '../domain';
import { matchSurface, openAIResponses, RESPONSES_ROUTE, type SurfaceMatch } from '../surfaces';

export interface ParsedPath {
  endpoint: Endpoint;
  /** What stood before the OpenAI path: `/v1`, `/v1/langchain`, or ``. */
  prefix: string;
  /** The OpenAI path itself, e.g. `/chat/completions` or `/models/gpt-4o` (a surface's own path under its prefix). */
  rest: string;
  /** The client surface the path belongs to (src/surfaces), when it is not an OpenAI path. */
  surface?: SurfaceMatch;
}

const PREFIXES = ['/v1/langchain', '/v1', ''];
const EXACT: Record<string, Endpoint> = {
  '/chat/completions': 'chat.completions',
  '/completions': 'completions',
  '/embeddings': 'embeddings',
  '/responses': 'responses',
  '/models': 'models',
};

/** Maps any accepted URL form (`/v1/chat/completions`, `/chat/completions`, a surface's `/api/v1/completion`, ...) to its endpoint. */
export function parsePath(path: string): ParsedPath {
  // Another API's paths (src/surfaces), by their prefix: served as the OpenAI endpoint they map to.
  const surface = matchSurface(path);
  if (surface) return { endpoint: surface.route?.endpoint ?? 'unknown', prefix: surface.surface.prefix, rest: surface.rest, surface };
  for (const prefix of PREFIXES) {
    if (prefix && !(path === prefix || path.startsWith(prefix + '/'))) continue;
    const rest = path.slice(prefix.length).replace(/\/+$/, '') || '/';
    const exact = Object.hasOwn(EXACT, rest) ? EXACT[rest] : undefined;
    // Responses reach providers that do not speak it through its surface (translated per attempt).
    if (exact === 'responses') return { endpoint: exact, prefix, rest, surface: { surface: openAIResponses, route: RESPONSES_ROUTE, rest: '/' } };
    if (exact) return { endpoint: exact, prefix, rest };
    if (rest.startsWith('/models/')) return { endpoint: 'models', prefix, rest };
    if (prefix) return { endpoint: 'unknown', prefix, rest };
  }
  return { endpoint: 'unknown', prefix: '', rest: path };
}

/** Endpoints whose body is JSON with a `model` field. */
export const MODEL_ENDPOINTS: ReadonlySet<Endpoint> = new Set(['chat.completions', 'completions', 'embeddings', 'responses']);

/** A `.` or `..` segment, literal or percent-encoded (`%2e%2e`). */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Whether a path (without its query) tries to climb the hierarchy. Envoy matches routes on the
 * path as sent while URL parsers behind it resolve dot segments, so such a path could be routed
 * as one thing and served as another; no legitimate client sends one.
 */
export function hasDotSegment(path: string): boolean {
  return DOT_SEGMENT.test(path);
}
