import { anthropicMessages } from './anthropic';
import { dotnet } from './dotnet';
import type { ClientSurface, SurfaceMatch } from './types';

export { openAIStreamAbort } from './abort';
export type { ClientSurface, SurfaceMatch, SurfaceReplyContext, SurfaceRoute, SurfaceStream } from './types';

/**
 * The client surfaces besides OpenAI's own paths (which the core serves directly), matched by
 * URL prefix before the OpenAI prefixes. To add one: a folder implementing `ClientSurface`
 * (./types.ts), listed here; test/unit/surfaces/ holds its translation tables.
 */
export const SURFACES: readonly ClientSurface[] = [dotnet, anthropicMessages];

/** OpenAI's Responses path is the core's own, not matched by prefix: src/core/endpoints.ts attaches it. */
export { openAIResponses, RESPONSES_ROUTE } from './responses';

/** The surface a path belongs to (by prefix), with the operation it addresses. */
export function matchSurface(path: string): SurfaceMatch | undefined {
  for (const surface of SURFACES) {
    if (path !== surface.prefix && !path.startsWith(surface.prefix + '/')) continue;
    const rest = path.slice(surface.prefix.length).replace(/\/+$/, '') || '/';
    return { surface, route: surface.route(rest), rest };
  }
  return undefined;
}
