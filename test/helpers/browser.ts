import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page, PuppeteerNode } from 'puppeteer-core';

/**
 * puppeteer-core is an ES module: loaded with Node's own require (which loads ES modules since
 * Node 20.19), reached through process.getBuiltinModule, as Jest's require only loads CommonJS.
 */
function puppeteer(): PuppeteerNode {
  const nodeModule = (process as unknown as { getBuiltinModule(id: string): typeof import('node:module') }).getBuiltinModule('node:module');
  return (nodeModule.createRequire(__filename)('puppeteer-core') as { default: PuppeteerNode }).default;
}

/**
 * Debian's Chromium, driven headless by puppeteer-core (no browser download: the system one).
 * `CHROMIUM_PATH` points elsewhere. Without it, a suite is skipped with a message, except under
 * CI=true, where a missing browser fails the suite (.ci/run installs Debian's `chromium`).
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const browserMissing = (): string | undefined => (fs.existsSync(CHROMIUM_PATH) ? undefined : `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or apt-get install chromium)`);

/** `describe`, or under a missing browser: a failing test on CI, a skipped suite elsewhere. */
export function describeWithBrowser(name: string, body: () => void): void {
  const missing = browserMissing();
  if (!missing) return describe(name, body);
  if (process.env.CI === 'true') {
    describe(name, () => test('needs Chromium', () => {
      throw new Error(missing);
    }));
    return;
  }
  // Straight to stderr: Jest drops the console output of a suite whose tests are all skipped.
  process.stderr.write(`skipping "${name}": ${missing}\n`);
  describe.skip(name, body);
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer().launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Tests run as root in containers, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'],
  });
}

/** Waits until the page's visible text contains `text`. */
export async function waitForText(page: Page, text: string, timeout = 10_000): Promise<void> {
  // Browser-side code as text: this file is compiled without the DOM's types.
  await page.waitForFunction(`document.body.innerText.includes(${JSON.stringify(text)})`, { timeout });
}

/** Saves a full-page screenshot as `dir/name.png` for review. */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  return file;
}

/**
 * Everything a page keeps where a secret could hide: its HTML (with every field's current
 * value, which the HTML does not show), the cookies its scripts can read, local and session storage.
 */
export async function pageState(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const values = [...document.querySelectorAll('input, textarea, select')].map((el) => el.value);
    const storage = (s) => Object.keys(s).map((k) => k + '=' + s.getItem(k));
    return [document.documentElement.outerHTML, document.body.innerText, document.cookie, ...values, ...storage(localStorage), ...storage(sessionStorage), location.href].join('\\n');
  })()`) as Promise<string>;
}
