import { errorBody } from '../../domain/errors';
import type { AdminResponse, AdminRouter } from '../router';
import { DOCS_CSP, DOCS_HTML, docsAsset } from './assets';
import { openApiJson } from './document';

const DOCS_HEADERS = {
  'content-security-policy': DOCS_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * GET /openapi.json (the document), GET /docs (Swagger UI) and GET /docs/{asset} (its files):
 * public, as the API they describe is. Envoy routes them to the admin server (bootstrap.ts).
 */
export function registerDocsRoutes(router: AdminRouter): void {
  router.add('GET', '/openapi.json', () => ({
    status: 200,
    body: undefined,
    raw: openApiJson(),
    headers: { 'content-type': 'application/json', 'cache-control': 'no-cache', 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff' },
  }));
  router.add('GET', '/docs', () => ({
    status: 200,
    body: undefined,
    raw: DOCS_HTML,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...DOCS_HEADERS },
  }));
  router.add('GET', '/docs/:asset', (req): AdminResponse => {
    const asset = docsAsset(req.params.asset);
    if (!asset) return { status: 404, body: errorBody(404, 'unknown_url', `Unknown request URL: ${req.method} ${req.path}.`) };
    return { status: 200, body: undefined, raw: asset.text, headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=3600', ...DOCS_HEADERS } };
  });
}
