import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONSOLE_CSP, consoleAsset, resetConsoleAssets } from '../../src/admin/console/assets';

afterEach(() => resetConsoleAssets());

test('only the built files of known types are served, each with its content type', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-assets-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!DOCTYPE html>');
  fs.writeFileSync(path.join(dir, 'app-ABC123.js'), 'export {}');
  fs.writeFileSync(path.join(dir, 'app-ABC123.css'), 'body{}');
  fs.writeFileSync(path.join(dir, 'secrets.env'), 'KEY=1');
  fs.mkdirSync(path.join(dir, 'nested.js'));
  expect(consoleAsset('app-ABC123.js', dir)).toEqual({ contentType: 'text/javascript; charset=utf-8', text: 'export {}' });
  expect(consoleAsset('app-ABC123.css', dir)?.contentType).toBe('text/css; charset=utf-8');
  expect(consoleAsset('index.html', dir)?.contentType).toBe('text/html; charset=utf-8');
  for (const name of ['secrets.env', 'nested.js', '../package.json', '__proto__', 'constructor', 'toString']) expect(consoleAsset(name, dir)).toBeUndefined();
});

test('a console that was not built serves nothing', () => {
  expect(consoleAsset('index.html', path.join(os.tmpdir(), 'no-such-console-dir'))).toBeUndefined();
});

test('the policy allows no inline or evaluated script, no framing, no base, forms to the gateway only', () => {
  const directives = Object.fromEntries(CONSOLE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
  expect(directives).toMatchObject({
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  });
  expect(CONSOLE_CSP).not.toMatch(/unsafe|\*|https?:/);
});
