import type { TranslationInput, UpstreamRequest } from '../types';

const ENDPOINT_PATHS: Record<string, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  models: '/models',
};

/**
 * The request as the client sent it, to the same path under the provider's base URL: only the
 * model id (when the route renamed it) and the credential (`Authorization: Bearer`) change.
 */
export function buildRequest({ endpoint, body, target, provider, apiKey }: TranslationInput): UpstreamRequest {
  const headers: Record<string, string> = { ...provider.headers };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const out: UpstreamRequest = { path: provider.basePath + (ENDPOINT_PATHS[endpoint] ?? ''), headers };
  if (body && body.model !== target.model) out.body = { ...body, model: target.model };
  return out;
}
