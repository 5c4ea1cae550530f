import type { JsonValue } from '../../domain';
import type { ClientSurface, SurfaceRoute } from '../types';
import { chatRequest, embeddingRequest } from './request';
import { CompletionStream, completionResponse, embeddingResponse, modelsResponse } from './response';

/**
 * The earlier .NET gateway's API, for the clients built on it (`X-API-Key`, key roles as for
 * the OpenAI paths):
 *
 * | path (under `/api/v1`)          | served as          |
 * | ------------------------------- | ------------------ |
 * | `POST /completion`              | chat completions   |
 * | `POST /completion/stream`       | chat completions, `stream: true` (SSE) |
 * | `POST /embedding`               | embeddings         |
 * | `GET /models`                   | the model list     |
 * | `GET /models/{id}`              | one model (`openai.gpt-4o`: provider.model) |
 * | `GET /models/provider/{name}`   | one provider's models (model-router; name case-insensitive) |
 *
 * `GET /api/v1/admin/usage` is the admin API's (Envoy routes `/api/v1/admin/` there). Request
 * bodies: ./request.ts; answers: ./response.ts. Errors keep OpenAI's shape
 * (`{"error":{"message","type","param","code"}}`), which this family of .NET clients reads.
 */

const route = (endpoint: SurfaceRoute['endpoint'], operation: string): SurfaceRoute => ({ endpoint, operation });

const EXACT: Record<string, SurfaceRoute> = {
  '/completion': route('chat.completions', 'completion'),
  '/completion/stream': route('chat.completions', 'completion.stream'),
  '/embedding': route('embeddings', 'embedding'),
  '/models': route('models', 'models.list'),
};

export const dotnet: ClientSurface = {
  name: 'dotnet',
  prefix: '/api/v1',

  route(rest) {
    const exact = EXACT[rest];
    if (exact) return exact;
    if (/^\/models\/provider\/[^/]+$/.test(rest)) return route('models', 'models.provider');
    if (rest.startsWith('/models/')) return route('models', 'models.get');
    return undefined;
  },

  request(r, body) {
    if (r.endpoint === 'chat.completions') return chatRequest(body, r.operation === 'completion.stream');
    if (r.endpoint === 'embeddings') return embeddingRequest(body);
    return body;
  },

  response(r, body, ctx) {
    if (r.endpoint === 'chat.completions') return completionResponse(body, ctx);
    if (r.endpoint === 'embeddings') return embeddingResponse(body, ctx);
    if (r.endpoint === 'models') return modelsResponse(body);
    return body;
  },

  stream(r, ctx) {
    return r.endpoint === 'chat.completions' ? new CompletionStream(ctx) : undefined;
  },

  error(_status, body: JsonValue) {
    return body;
  },
};
