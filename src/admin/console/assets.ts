import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../paths';

/**
 * The console's files, built by scripts/build-console.mjs into dist/console: index.html (the
 * page, served at /console) and content-hashed scripts and styles next to it. Read once, then
 * kept; the gateway never reaches outside for any of them (no CDN: it works offline).
 */

export const CONSOLE_DIR = path.join(PROJECT_ROOT, 'dist', 'console');

/**
 * Scripts, styles, images and API calls from the gateway only: no inline script, no eval, no
 * inline style attributes (scripts set styles through the CSSOM, which CSP allows), no plugins,
 * no framing, no <base>, forms posting only to the gateway.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export interface ConsoleAsset {
  contentType: string;
  text: string;
}

let files: Map<string, ConsoleAsset> | undefined;

/** Every file of the built console by name; empty when it was not built. */
function load(dir: string): Map<string, ConsoleAsset> {
  const out = new Map<string, ConsoleAsset>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const type = TYPES[path.extname(name)];
    // Only plain file names of known types: nothing else in the folder is ever served.
    if (!type || !/^[\w.-]+$/.test(name) || !fs.statSync(path.join(dir, name)).isFile()) continue;
    out.set(name, { contentType: type, text: fs.readFileSync(path.join(dir, name), 'utf8') });
  }
  return out;
}

/** A built file by name (index.html is the page), or undefined. */
export function consoleAsset(name: string, dir = CONSOLE_DIR): ConsoleAsset | undefined {
  files ??= load(dir);
  return files.get(name);
}

/** Forgets the files read (tests that build the console again). */
export function resetConsoleAssets(): void {
  files = undefined;
}
