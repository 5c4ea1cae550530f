import fs from 'node:fs';
import path from 'node:path';

/** The repository (or installed package) root: the nearest folder above us with package.json. */
export const PROJECT_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
})();

/** True when running the tsc output (dist/), false under ts-jest or ts-node. */
export const COMPILED = __filename.endsWith('.js');

/** Built-in plugins: compiled to dist/plugins, or the TypeScript sources when run uncompiled. */
export const BUILTIN_PLUGIN_DIR = path.join(PROJECT_ROOT, COMPILED ? 'dist/plugins' : 'plugins');
