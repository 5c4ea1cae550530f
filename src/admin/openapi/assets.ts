import fs from 'node:fs';
import path from 'node:path';

/**
 * The Swagger UI page at /docs: its HTML, its start script and the files it loads, all served by
 * the gateway itself from the `swagger-ui-dist` package (no CDN: it works offline). The page runs
 * no inline script, so the Content-Security-Policy below allows scripts from the gateway only.
 */

/**
 * Scripts and styles from the gateway only (Swagger UI sets style attributes, hence inline
 * styles; its stylesheet embeds `data:` images); requests ("Try it out", the document) to the
 * gateway only; no framing.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Starts Swagger UI on the document next to /docs (found from this script's own URL, so a path prefix in front of the gateway still works). */
const INIT_JS = `'use strict';
(function () {
  var script = document.currentScript;
  var documentUrl = new URL('../openapi.json', script ? script.src : window.location.href).toString();
  window.ui = SwaggerUIBundle({
    url: documentUrl,
    dom_id: '#swagger-ui',
    deepLinking: true,
    // No call to the public validator service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
`;

export const DOCS_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>LLM Gateway API</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="utf-8"></script>
    <script src="/docs/init.js" charset="utf-8"></script>
  </body>
</html>
`;

interface Asset {
  contentType: string;
  /** A file of swagger-ui-dist, or the text itself. */
  file?: string;
  text?: string;
}

/** What /docs/{asset} serves, by name. */
export const DOCS_ASSETS: Readonly<Record<string, Asset>> = {
  'swagger-ui.css': { contentType: 'text/css; charset=utf-8', file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { contentType: 'text/javascript; charset=utf-8', file: 'swagger-ui-bundle.js' },
  'init.js': { contentType: 'text/javascript; charset=utf-8', text: INIT_JS },
};

const loaded = new Map<string, string>();

/** An asset's content (read once, then kept), or undefined for an unknown name. */
export function docsAsset(name: string): { contentType: string; text: string } | undefined {
  if (!Object.hasOwn(DOCS_ASSETS, name)) return undefined;
  const asset = DOCS_ASSETS[name];
  let text = asset.text ?? loaded.get(name);
  if (text === undefined) {
    const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
    text = fs.readFileSync(path.join(dir, asset.file!), 'utf8');
    loaded.set(name, text);
  }
  return { contentType: asset.contentType, text };
}
