import type { Endpoint, JsonObject } from '../domain';
import type { ClientSurface, SurfaceRoute } from '../surfaces';
import { estimateInputTokens } from '../surfaces/anthropic';
import { setTopLevelString } from './raw-json';

/** A request that came through a client surface (src/surfaces), as its attempts need it. */
export interface SurfaceRequest {
  readonly surface: ClientSurface;
  readonly route: SurfaceRoute;
  /** The client's body as it came: parsed, and the text a native attempt forwards. */
  readonly clientBody: JsonObject;
  readonly clientText: string;
  /**
   * The OpenAI view the surface made of it, as compared by `sameView`; undefined when plugins see
   * the client's own body (Responses), so their edits are the client's body's.
   */
  readonly view: string | undefined;
}

/** What one attempt of a surface's request sends. */
export type SurfacePlan =
  /** The client's own API: `text` (the client's bytes, model set) or `body` (the plugins' edit of it). */
  | { kind: 'native'; endpoint: Endpoint; text?: string; body?: JsonObject; headers: Record<string, string> }
  /** An OpenAI body (of `endpoint`) for the provider's translator. */
  | { kind: 'translated'; endpoint: Endpoint; body: JsonObject }
  /** Answered by the gateway without a provider (count_tokens for a model Anthropic does not serve). */
  | { kind: 'answer'; body: JsonObject };

/** The view with what never reaches a native body left out: the model (set per attempt) and stream options. */
export function viewKey(view: JsonObject): string {
  const { model: _model, stream_options: _so, ...rest } = view;
  return JSON.stringify(rest);
}

/**
 * How this attempt serves the client's API on `provider`. Native when the provider's type speaks
 * it (and the provider is not configured to take it translated: `translated_apis`) and, for a surface whose plugins see an OpenAI view (Messages), when no
 * plugin changed that view's content: a redaction or any other edit is honoured by translating
 * the edited view instead, never by sending the client's original. Throws a 4xx GatewayError for
 * what a translation cannot carry.
 */
export function planSurfaceAttempt(
  sr: SurfaceRequest,
  view: JsonObject,
  provider: { readonly type: string; readonly translatedApis?: readonly string[] },
  model: string,
  get: (h: string) => string | undefined,
): SurfacePlan {
  const { surface, route } = sr;
  const api = route.api ?? route.endpoint;
  const speaks = (surface.native?.(route, provider.type) ?? false) && !provider.translatedApis?.includes(api);
  if (speaks) {
    const headers = surface.nativeHeaders?.(route, get) ?? {};
    // Plugins see the client's own body (Responses): their edits, if any, are what goes.
    const untouched = sr.view === undefined ? viewKey(view) === viewKey(sr.clientBody) : viewKey(view) === sr.view;
    if (untouched) {
      const text = setTopLevelString(sr.clientText, 'model', model);
      return text === undefined ? { kind: 'native', endpoint: api, body: { ...sr.clientBody, model }, headers } : { kind: 'native', endpoint: api, text, headers };
    }
    if (sr.view === undefined) return { kind: 'native', endpoint: api, body: { ...view, model }, headers };
  }
  if (api === 'messages.count_tokens') return { kind: 'answer', body: { input_tokens: estimateInputTokens(sr.clientBody) } };
  const refused = surface.untranslatable?.(route, sr.clientBody);
  if (refused) throw refused;
  if (surface.attemptBody) return { kind: 'translated', endpoint: 'chat.completions', body: surface.attemptBody(route, view) };
  return { kind: 'translated', endpoint: route.endpoint, body: view };
}
