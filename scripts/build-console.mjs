// Builds the admin console (console/) into dist/console: one script and one stylesheet, bundled
// with everything they use (Preact, uPlot: no CDN, works offline), minified, named by a hash of
// their content, and index.html pointing at them. Run by `npm run build` (and so at install);
// scripts/build-image.sh passes the image's folder instead:
//
//   node scripts/build-console.mjs [OUTDIR]      (default: dist/console)
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'console');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'console'));

fs.rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { app: path.join(src, 'src', 'main.tsx') },
  outdir: out,
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const built = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const script = built.find((f) => f.endsWith('.js'));
const style = built.find((f) => f.endsWith('.css'));
if (!script || !style) throw new Error(`console build: expected a script and a stylesheet, got ${built.join(', ')}`);
const html = fs
  .readFileSync(path.join(src, 'index.html'), 'utf8')
  .replace('{{script}}', `/console/${script}`)
  .replace('{{style}}', `/console/${style}`);
fs.writeFileSync(path.join(out, 'index.html'), html);
const kb = (f) => (fs.statSync(path.join(out, f)).size / 1024).toFixed(1);
console.log(`console: ${path.relative(process.cwd(), out) || '.'}/${script} (${kb(script)} KiB), ${style} (${kb(style)} KiB)`);
