import type { ClientSurface, SurfaceRoute } from '../types';
import { responsesToChat } from './request';
import { responsesResponse } from './response';
import { ResponsesStream } from './stream';

/**
 * OpenAI's Responses API (`POST /v1/responses`, the OpenAI Agents SDK) for every provider. It is
 * an OpenAI path, so plugins see its own body (endpoint `responses`) and it is not matched by
 * prefix: the core attaches this surface to the `responses` endpoint. Attempts on `openai` and
 * `openai-compatible` providers are native (the body and the answer pass as they are, as
 * before); every other attempt sends the chat completions translation (./request.ts) and its
 * answer comes back as a Response (./response.ts) or Responses events (./stream.ts). Errors keep
 * OpenAI's shape.
 */

export const RESPONSES_ROUTE: SurfaceRoute = { endpoint: 'responses', operation: 'responses', api: 'responses' };
const NATIVE_TYPES: ReadonlySet<string> = new Set(['openai', 'openai-compatible']);

export const openAIResponses: ClientSurface = {
  name: 'openai',
  prefix: '/v1/responses',
  route: (rest) => (rest === '/' ? RESPONSES_ROUTE : undefined),
  // Plugins see the Responses body itself; a translated attempt translates it (attemptBody).
  request: (_r, body) => body,
  response: (_r, body, ctx) => responsesResponse(body, ctx),
  stream: (_r, ctx) => new ResponsesStream(ctx),
  error: (_status, body) => body,
  native: (_r, providerType) => NATIVE_TYPES.has(providerType),
  attemptBody: (_r, body) => responsesToChat(body),
};
