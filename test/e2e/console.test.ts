import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { describeWithBrowser, launchBrowser, pageState, screenshot, waitForText } from '../helpers/browser';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { hs256Jwt } from '../helpers/jwt';

/**
 * The admin console in a real browser (Debian's Chromium, headless) against a real gateway
 * through Envoy: sign-in with an admin key or a JWT, keys created in the page and used with the
 * official OpenAI SDK (Python), their usage seen in the page, revoked in the page and refused,
 * settings changed and read back from the audit page; wrong and expired credentials refused;
 * no secret left in the page; the session cookie's flags; the Content-Security-Policy. A
 * screenshot of each page goes to test-output/console/ for review.
 */

const ADMIN = 'sk-console-admin-0123456789abcdef';
const TEAM_ADMIN = 'sk-console-team-a-admin-0123456789';
const TEAM_A_KEY = 'sk-console-team-a-user-0123456789';
const TEAM_B_KEY = 'sk-console-team-b-user-0123456789';
const JWT_SECRET = 'hs256-secret-for-the-console-e2e-0123456789';
const AUDIENCE = 'llm-gateway-admin';
const PROVIDER_KEY = 'sk-upstream-provider-key-console';
const NEW_PROVIDER_KEY = 'sk-added-provider-key-console-0123';
const SHOTS = path.join(ROOT, 'test-output', 'console');
const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';

let gw: RunningGateway;
let fake: FakeOpenAI;
let browser: Browser;
/** Uncaught errors of the console's scripts, and Content-Security-Policy violations (none expected). */
const pageErrors: string[] = [];
/** Every secret the tests handled: keys, tokens, session ids (never in the gateway's output). */
const secrets = new Set<string>([ADMIN, TEAM_ADMIN, PROVIDER_KEY, NEW_PROVIDER_KEY]);

/** One chat completion with the official OpenAI Python SDK through the gateway: its status and answer. */
async function sdkChat(key: string): Promise<{ status: number; content?: string; code?: string }> {
  const script = `
import json, openai
client = openai.OpenAI(max_retries=0)
try:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello console"}])
    print(json.dumps({"status": 200, "content": r.choices[0].message.content}))
except openai.APIStatusError as e:
    body = e.body if isinstance(e.body, dict) else {}
    print(json.dumps({"status": e.status_code, "code": body.get("code")}))
`;
  const env = { PATH: process.env.PATH, OPENAI_API_KEY: key, OPENAI_BASE_URL: `${gw.url}/v1` };
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script], { env, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** A call to the admin API with a bearer credential (what the console must match). */
async function adminApi(method: string, p: string, token = ADMIN, body?: unknown): Promise<any> {
  const res = await fetch(`${gw.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const goto = async (page: Page, hash: string) => {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.waitForSelector(`nav a[aria-current="page"][href="${hash}"]`);
};

/** A fresh browser profile (no cookies) on the console's sign-in form. */
async function openConsole(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('pageerror', (err) => pageErrors.push(String((err as Error)?.message ?? err)));
  // The console's own scripts and styles must run under the policy as they are (uPlot included).
  page.on('console', (m) => /Content Security Policy/.test(m.text()) && pageErrors.push(m.text()));
  await page.goto(`${gw.url}/console`);
  await page.waitForSelector('#credential');
  return { context, page };
}

/** A fresh browser profile signed in with `credential`, or showing why not. */
async function signIn(credential: string, expectSignedIn = true): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await openConsole();
  await setValue(page, '#credential', credential);
  await page.click('form button[type="submit"]');
  if (expectSignedIn) await page.waitForSelector('nav[aria-label="Console pages"]');
  secrets.add(credential);
  for (const c of await context.cookies()) secrets.add(c.value);
  return { context, page };
}

/** Sets a field's value as a paste would (no typing of long tokens). */
const setValue = (page: Page, selector: string, value: string) =>
  page.evaluate(`(() => { const el = document.querySelector(${JSON.stringify(selector)}); el.value = ${JSON.stringify(value)}; el.dispatchEvent(new Event('input', { bubbles: true })); })()`);

/** The text of the element the selector finds. */
const textOf = (page: Page, selector: string) => page.evaluate(`document.querySelector(${JSON.stringify(selector)}).textContent`) as Promise<string>;

/** The cells' text of each row the selector finds. */
const cells = (page: Page, rows: string) =>
  page.evaluate(`[...document.querySelectorAll(${JSON.stringify(rows)})].map((r) => [...r.children].map((c) => c.textContent))`) as Promise<string[][]>;

/** An attribute of each element the selector finds. */
const attrs = (page: Page, selector: string, name: string) =>
  page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((el) => el.getAttribute(${JSON.stringify(name)}))`) as Promise<string[]>;

describeWithBrowser('admin console', () => {
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    [gw, browser] = await Promise.all([
      startGateway({
        env: { ADMIN_JWT_SECRET: JWT_SECRET, CONSOLE_PROVIDER_KEY: PROVIDER_KEY },
        config: {
          providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key_env: 'CONSOLE_PROVIDER_KEY', models: ['gpt-*'] }],
          keys: {
            admin: [{ key: ADMIN, id: 'root' }],
            entries: {
              [TEAM_ADMIN]: { name: 'lead-a', user: 'lead-a', team: 'team-a', roles: ['admin', 'completion'] },
              [TEAM_A_KEY]: { name: 'a-user', user: 'a-user', team: 'team-a' },
              [TEAM_B_KEY]: { name: 'b-user', user: 'b-user', team: 'team-b' },
            },
          },
          // Sessions of 2 hours, 10 minutes idle (admin_auth.console; 8 h and 1 h by default).
          admin_auth: { jwt: { hs256_secret: 'env:ADMIN_JWT_SECRET', audience: AUDIENCE }, console: { session_ttl_seconds: 7200, idle_timeout_seconds: 600 } },
          pricing: { models: { 'gpt-4o-mini': { input: 1, output: 2 } } },
          // A team admin's listings are its team's (the API's rule, which the console shows).
          security: { data_isolation_enabled: true },
          usage: { flush_interval_ms: 20 },
          plugins: testPlugins(),
        },
      }),
      launchBrowser(),
    ]);
  }, 60_000);

  afterEach(() => expect(pageErrors.splice(0)).toEqual([]));

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await fake?.close();
  });

  test('wrong credentials and an expired JWT are refused with the gateway\'s message, and audited', async () => {
    const { context, page } = await signIn('sk-not-a-key-of-this-gateway-0123', false);
    await waitForText(page, 'Incorrect API key provided.');
    expect(await textOf(page, '[role="alert"]')).toContain('Incorrect API key provided.');
    await screenshot(page, SHOTS, 'sign-in-refused');

    const expired = await hs256Jwt({ sub: 'ops', roles: ['admin'], aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) - 120 }, JWT_SECRET);
    await setValue(page, '#credential', expired);
    await page.click('form button[type="submit"]');
    await waitForText(page, 'The bearer token has expired.');
    // A key without the admin role opens no session either.
    await setValue(page, '#credential', TEAM_B_KEY);
    await page.click('form button[type="submit"]');
    await waitForText(page, 'This endpoint needs a key with the admin role.');
    expect(await context.cookies()).toEqual([]);
    expect(await pageState(page)).not.toMatch(/sk-not-a-key|sk-console-team-b|eyJ/);
    await context.close();

    const failed = await adminApi('GET', '/v1/audit?action=admin.login_failed&limit=50');
    const reasons = failed.body.data.filter((r: any) => r.target === 'POST /console/session').map((r: any) => r.details.reason);
    expect(reasons).toEqual(expect.arrayContaining(['invalid_api_key', 'expired', 'missing_admin_role']));
  });

  test('signing in (by keyboard) sets an HttpOnly, SameSite=Strict session cookie; the credential is nowhere in the page', async () => {
    const { context, page } = await openConsole();
    // The field is the first stop of the keyboard; Enter submits.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('credential');
    await page.keyboard.type(ADMIN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav[aria-label="Console pages"]');
    await page.waitForFunction(`document.title === 'Overview · LLM Gateway'`);
    const cookies = await context.cookies();
    cookies.forEach((c) => secrets.add(c.value));
    expect(cookies.map((c) => c.name)).toEqual(['gw_console']);
    const [cookie] = cookies;
    expect([cookie.httpOnly, cookie.sameSite, cookie.path, cookie.secure]).toEqual([true, 'Strict', '/', false]);
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie.value).not.toContain(ADMIN);
    const state = await pageState(page);
    expect(state).not.toContain(ADMIN);
    expect(state).not.toContain(cookie.value);
    expect(await page.evaluate('document.cookie')).toBe('');
    await screenshot(page, SHOTS, 'overview-empty');
    await context.close();
  });

  test('over TLS (x-forwarded-proto: https) the cookie is Secure too; sign-out ends the session', async () => {
    const res = await fetch(`${gw.url}/console/session`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'x-forwarded-proto': 'https' } });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie.split(';').map((s) => s.trim())).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure', 'Max-Age=7200']));
    const opened = (await res.json()) as any;
    expect(Math.abs(Date.parse(opened.expires_at) - (Date.now() + 7200_000))).toBeLessThan(10_000);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const cookie = setCookie.split(';')[0];
    const withCookie = (headers: Record<string, string> = {}) => fetch(`${gw.url}/v1/keys`, { headers: { cookie, ...headers } });
    expect((await withCookie({ 'x-gateway-console': '1' })).status).toBe(200);
    // The cookie alone (what a cross-site form could make the browser send) is no credential.
    expect((await withCookie()).status).toBe(401);
    const out = await fetch(`${gw.url}/console/session`, { method: 'DELETE', headers: { cookie, 'x-gateway-console': '1' } });
    expect(await out.json()).toEqual({ object: 'console.session', signed_out: true });
    expect(out.headers.get('set-cookie')).toMatch(/^gw_console=; Path=\/; Max-Age=0;/);
    const after = await withCookie({ 'x-gateway-console': '1' });
    expect([after.status, ((await after.json()) as any).error.code]).toEqual([401, 'invalid_session']);
  });

  test('create a key in the page, use it with the OpenAI SDK, see its usage, revoke it and see the SDK refused', async () => {
    const { context, page } = await signIn(ADMIN);
    await goto(page, '#/keys');
    await page.type('input[name="name"]', 'console-e2e');
    await page.type('input[name="user"]', 'sdk-user');
    await page.type('input[name="team"]', 'team-b');
    await page.type('input[name="budget_usd"]', '5');
    await page.click('form[aria-labelledby="create-key-title"] button[type="submit"]');
    await page.waitForSelector('dialog[open] [data-testid="new-secret"]');
    const secret = (await textOf(page, '[data-testid="new-secret"]')).trim();
    secrets.add(secret);
    expect(secret).toMatch(/^sk-/);
    await page.click('dialog[open] button.secondary');
    await page.waitForFunction(`!document.querySelector('dialog')`);
    // The secret is gone from the page once the dialog is closed.
    expect(await pageState(page)).not.toContain(secret);
    const [keyId] = await attrs(page, '[data-testid="keys-table"] tbody tr', 'data-key-id');
    expect((await adminApi('GET', `/v1/keys/${keyId}`)).body).toMatchObject({ name: 'console-e2e', user: 'sdk-user', team: 'team-b', budget_usd: 5 });

    // Its limits are changed in the page.
    await page.click(`tr[data-key-id="${keyId}"] button[aria-label^="Edit limits"]`);
    await setValue(page, `tr[data-key-id="${keyId}"] input[name="budget_usd"]`, '');
    await page.type(`tr[data-key-id="${keyId}"] input[name="budget_usd"]`, '7.5');
    await page.click(`tr[data-key-id="${keyId}"] form button[type="submit"]`);
    await waitForText(page, 'Limits of console-e2e saved.');
    expect((await adminApi('GET', `/v1/keys/${keyId}`)).body.budget_usd).toBe(7.5);
    await screenshot(page, SHOTS, 'keys');

    const answer = await sdkChat(secret);
    expect(answer).toEqual({ status: 200, content: 'echo: hello console' });
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);

    // Its usage appears in the usage explorer (grouped by key) and on the overview.
    await goto(page, '#/usage');
    await waitFor(async () => {
      await page.click('form.filters button[type="submit"]');
      await new Promise((r) => setTimeout(r, 150));
      return (await pageState(page)).includes(keyId);
    }, 10_000, 200);
    const row = await cells(page, 'table tbody tr');
    expect(row.find((r) => r[0] === keyId)).toEqual([keyId, '1', '0', '9', '3', '12', '$0.000015']);
    await screenshot(page, SHOTS, 'usage');
    await page.select('select[name="group_by"]', 'user');
    await page.click('form.filters button[type="submit"]');
    await waitForText(page, 'sdk-user');

    await goto(page, '#/overview');
    await page.waitForSelector('[data-testid="total-requests"]');
    expect(Number(await textOf(page, '[data-testid="total-requests"]'))).toBeGreaterThanOrEqual(1);
    await waitForText(page, 'gpt-4o-mini');
    // 7 days by default, per hour: totals, then per hour by provider and by model (from
    // /v1/usage?group_by=hour&provider=, &model=), 168 points, this hour's last.
    await waitForText(page, 'Cost per hour by model (USD)');
    expect(await attrs(page, 'section[data-group-by]', 'data-group-by')).toEqual(['hour']);
    expect(await page.$$('figure.chart canvas')).toHaveLength(5);
    const labels = await attrs(page, 'figure.chart [role="img"]', 'aria-label');
    const hourly = labels.find((l) => l.startsWith('Requests per hour by provider'))!.replace(/^.*openai /, '').split(', ').map(Number);
    expect(hourly).toHaveLength(168);
    const thisHour = `${new Date().toISOString().slice(0, 13)}:00:00Z`;
    const apiHours = (await adminApi('GET', '/v1/usage?group_by=hour&provider=openai')).body.data;
    expect(apiHours.find((r: any) => r.group === thisHour)?.requests).toBe(hourly[167]);
    expect(hourly[167]).toBeGreaterThanOrEqual(1);
    await screenshot(page, SHOTS, 'overview');
    // 24 hours: per hour too; 30 days: per day, today last.
    await page.click('button[data-range="24h"]');
    await page.waitForSelector('button[data-range="24h"][aria-pressed="true"]');
    await waitForText(page, 'Requests (24 hours)');
    expect((await attrs(page, 'figure.chart [role="img"]', 'aria-label')).find((l) => l.startsWith('Requests per hour by provider'))!.split(', ')).toHaveLength(24);
    await page.click('button[data-range="30d"]');
    await waitForText(page, 'Cost per day by model (USD)');
    expect(await attrs(page, 'section[data-group-by]', 'data-group-by')).toEqual(['day']);
    const daily = (await attrs(page, 'figure.chart [role="img"]', 'aria-label')).find((l) => l.startsWith('Requests per day by provider'))!;
    expect(daily).toMatch(/openai [0,\s]*[1-9]\d*$/);
    expect(daily.replace(/^.*openai /, '').split(', ')).toHaveLength(30);
    await screenshot(page, SHOTS, 'overview-30-days');
    const byProvider = await adminApi('GET', '/v1/usage?group_by=model&provider=openai');
    expect(byProvider.body.data.map((r: any) => [r.group, r.requests])).toEqual([['gpt-4o-mini', 1]]);
    expect((await adminApi('GET', '/v1/usage?provider=elsewhere')).body.data[0].requests).toBe(0);
    expect((await adminApi('GET', '/v1/usage?model=%00')).body.error.param).toBe('model');

    // Revoked in the page: the SDK's next request is refused.
    await goto(page, '#/keys');
    await page.click(`tr[data-key-id="${keyId}"] button[aria-label="Revoke console-e2e"]`);
    await page.click(`tr[data-key-id="${keyId}"] button[aria-label="Confirm revoking console-e2e"]`);
    await waitForText(page, 'Key console-e2e revoked.');
    await page.waitForSelector(`tr[data-key-id="${keyId}"] td.status-revoked`);
    expect(await textOf(page, `tr[data-key-id="${keyId}"] td.status-revoked`)).toBe('revoked');
    expect(await sdkChat(secret)).toEqual({ status: 401, code: 'revoked_api_key' });
    expect(await pageState(page)).not.toContain(secret);
    await context.close();
  });

  test('the CSV export is made by the gateway, with the scope and filter of the page', async () => {
    const { context, page } = await signIn(ADMIN);
    await goto(page, '#/usage');
    await page.select('select[name="group_by"]', 'model');
    // One click saves the file: fetched with the console header (as every call), saved from a blob.
    const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'console-csv-'));
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, browserContextId: (context as any).id, eventsEnabled: true });
    const answer = page.waitForResponse((r) => r.url().includes('/v1/usage?') && r.url().includes('format=csv'));
    await page.click('form.filters button.secondary');
    const sent = (await answer).request().headers();
    expect(sent['x-gateway-console']).toBe('1');
    await waitForText(page, 'Saved usage-model-');
    let file = '';
    await waitFor(async () => {
      file = fs.readdirSync(downloads).find((f) => f.endsWith('.csv')) ?? '';
      return file !== '';
    }, 10_000, 100);
    expect(file).toMatch(/^usage-model-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = fs.readFileSync(path.join(downloads, file), 'utf8');
    expect(csv.split('\r\n')[0]).toBe('model,requests,errors,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,total_tokens,cost_usd');
    expect(csv).toContain('gpt-4o-mini,');
    fs.rmSync(downloads, { recursive: true, force: true });
    // The same URL without the header (what a plain link or another site could make the browser
    // send with the cookie) is refused: the export needs no weaker rule.
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    expect((await fetch(`${gw.url}/v1/usage?group_by=model&format=csv`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } })).status).toBe(401);
    await context.close();
  });

  test('a security setting changed in the page, the API\'s validation message shown, and the change read in the audit page', async () => {
    const { context, page } = await signIn(ADMIN);
    await goto(page, '#/security');
    await page.waitForSelector('input[name="content_filtering_enabled"]');
    const before = (await adminApi('GET', '/v1/security/config')).body.content_filtering_enabled;
    await page.click('input[name="content_filtering_enabled"]');
    await waitForText(page, 'Content filtering saved.');
    expect((await adminApi('GET', '/v1/security/config')).body.content_filtering_enabled).toBe(!before);

    // A rule the content filter refuses: its message (naming the rule) is shown, nothing changes.
    const bad = JSON.stringify([{ name: 'bad', rules: [{ name: 'broken', pattern: '(unclosed', action: 'block' }] }]);
    await setValue(page, '#content-filters', '');
    await page.type('#content-filters', bad);
    await page.click('form.card button[type="submit"]');
    await page.waitForSelector('[role="alert"]');
    expect(await textOf(page, '[role="alert"]')).toMatch(/^Invalid setting 'content_filters\[0\]\.rules\[0\]/);
    expect((await adminApi('GET', '/v1/security/config')).body.content_filters).toEqual([]);
    await screenshot(page, SHOTS, 'security');

    await goto(page, '#/audit');
    await page.type('input[name="action"]', 'security_config.changed');
    await page.click('form.filters button[type="submit"]');
    await page.waitForSelector('[data-testid="audit-table"]');
    const rows = await cells(page, '[data-testid="audit-table"] tbody tr');
    // Newest first: the refused change (a failure, naming the setting at fault), then the toggle.
    expect(rows[0].slice(1, 5)).toEqual(['security_config.changed', 'failure', '—', 'root']);
    expect(rows[0][6]).toContain('"param":"content_filters[0].rules[0]');
    expect(rows[1].slice(1, 5)).toEqual(['security_config.changed', 'success', '—', 'root']);
    expect(rows[1][6]).toContain(`"content_filtering_enabled":${!before}`);
    await screenshot(page, SHOTS, 'audit');

    // Paged by the gateway: 25 records a page, `Next` asks for the page after the last one shown.
    await Promise.all(Array.from({ length: 30 }, () => fetch(`${gw.url}/v1/keys`, { headers: { authorization: 'Bearer sk-paging-not-a-key-0123456789' } })));
    const apiFirst = (await adminApi('GET', '/v1/audit?action=admin.login_failed&limit=25')).body;
    const apiSecond = (await adminApi('GET', `/v1/audit?action=admin.login_failed&limit=25&before=${apiFirst.next_cursor}`)).body;
    await setValue(page, 'input[name="action"]', 'admin.login_failed');
    await page.click('form.filters button[type="submit"]');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === 25`);
    const idsShown = async () => (await cells(page, '[data-testid="audit-table"] tbody tr')).map((r) => r[5]);
    expect(await idsShown()).toEqual(apiFirst.data.map((r: any) => r.request_id));
    await page.click('nav.pager button:last-of-type');
    await waitForText(page, 'Page 2');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === ${apiSecond.data.length}`);
    expect(await idsShown()).toEqual(apiSecond.data.map((r: any) => r.request_id));
    await page.click('nav.pager button:first-of-type');
    await waitForText(page, 'Page 1');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === 25`);
    await context.close();
  });

  test('providers: added, changed and removed in the page, with live health from /health', async () => {
    const { context, page } = await signIn(ADMIN);
    await goto(page, '#/providers');
    await page.waitForSelector('[data-testid="health-openai"]');
    await page.waitForFunction(`document.querySelector('[data-testid="health-openai"]').textContent === 'healthy'`);
    await page.type('input[name="name"]', 'console-extra');
    await page.type('input[name="base_url"]', fake.url);
    await page.type('input[name="models"]', 'extra-*');
    await page.type('input[name="api_key"]', NEW_PROVIDER_KEY);
    await page.click('form[aria-labelledby="provider-form-title"] button[type="submit"]');
    await waitForText(page, 'Provider console-extra added.');
    await page.waitForSelector('tr[data-provider="console-extra"]');
    expect((await adminApi('GET', '/v1/providers/console-extra')).body).toMatchObject({ models: ['extra-*'], has_api_key: true, source: 'api' });

    await page.click('button[aria-label="Change console-extra"]');
    await page.waitForFunction(`document.querySelector('#provider-form-title').textContent === 'Change console-extra'`);
    await setValue(page, 'input[name="models"]', '');
    await page.type('input[name="models"]', 'extra2-*');
    await page.type('input[name="api_key"]', NEW_PROVIDER_KEY);
    await page.click('form[aria-labelledby="provider-form-title"] button[type="submit"]');
    await waitForText(page, 'Provider console-extra changed.');
    expect((await adminApi('GET', '/v1/providers/console-extra')).body.models).toEqual(['extra2-*']);
    await waitFor(async () => (await textOf(page, 'tr[data-provider="console-extra"]')).includes('extra2-*'));
    expect(await pageState(page)).not.toContain(NEW_PROVIDER_KEY);
    await screenshot(page, SHOTS, 'providers');

    await page.click('button[aria-label="Remove console-extra"]');
    await page.click('button[aria-label="Confirm removing console-extra"]');
    await waitForText(page, 'Provider console-extra removed.');
    await page.waitForFunction(`!document.querySelector('tr[data-provider="console-extra"]')`);
    expect((await adminApi('GET', '/v1/providers/console-extra')).status).toBe(404);
    await context.close();
  });

  test('a team admin sees and changes only its team, exactly as the API allows it', async () => {
    const { context, page } = await signIn(TEAM_ADMIN);
    expect(await textOf(page, '[data-testid="who"]')).toBe('lead-a · team team-a');
    await goto(page, '#/keys');
    await page.waitForSelector('[data-testid="keys-table"]');
    const shown = await attrs(page, '[data-testid="keys-table"] tbody tr', 'data-key-id');
    const api = await adminApi('GET', '/v1/keys?limit=20', TEAM_ADMIN);
    expect(shown).toEqual(api.body.data.map((k: any) => k.id));
    expect(new Set(api.body.data.map((k: any) => k.team))).toEqual(new Set(['team-a']));

    // A key created without a team gets the team admin's; naming another team is refused.
    await page.type('input[name="name"]', 'made-by-lead');
    await page.click('form[aria-labelledby="create-key-title"] button[type="submit"]');
    await page.waitForSelector('dialog[open]');
    await page.click('dialog[open] button.secondary');
    const made = (await adminApi('GET', '/v1/keys')).body.data.find((k: any) => k.name === 'made-by-lead');
    expect(made.team).toBe('team-a');
    await page.type('input[name="name"]', 'other-team');
    await page.type('input[name="team"]', 'team-b');
    await page.click('form[aria-labelledby="create-key-title"] button[type="submit"]');
    await waitForText(page, "A team admin may only give keys its own team ('team-a')");

    // Settings apply to every team: the API refuses the change, and the page says why.
    await goto(page, '#/security');
    await page.waitForSelector('input[name="audit_logging_enabled"]');
    await page.click('input[name="audit_logging_enabled"]');
    await waitForText(page, "This change applies to every team; it needs an admin credential without a team, not one of team 'team-a'.");
    expect((await adminApi('GET', '/v1/security/config')).body.audit_logging_enabled).toBe(true);
    await screenshot(page, SHOTS, 'team-admin-security');

    // The audit page shows its team's records only: what the API gives this team admin, newest
    // first, while the log holds other teams' and team-less records too.
    await adminApi('GET', '/v1/keys', TEAM_B_KEY);
    await goto(page, '#/audit');
    await page.waitForSelector('[data-testid="audit-table"]');
    const teamAudit = (await adminApi('GET', '/v1/audit?limit=25', TEAM_ADMIN)).body;
    expect(teamAudit.scope).toBe('team');
    expect(teamAudit.data.length).toBeGreaterThan(2);
    expect(new Set(teamAudit.data.map((r: any) => r.actor.team))).toEqual(new Set(['team-a']));
    const everyone = (await adminApi('GET', '/v1/audit?limit=1000')).body.data;
    expect(everyone.some((r: any) => r.actor.team !== 'team-a')).toBe(true);
    expect(await attrs(page, '[data-testid="audit-table"] tbody tr', 'data-audit-id')).toEqual(teamAudit.data.map((r: any) => r.id));
    expect((await cells(page, '[data-testid="audit-table"] tbody tr')).every((r) => r[4].endsWith('(team-a)'))).toBe(true);
    expect(await textOf(page, '[data-testid="audit-scope"]')).toBe("Your team's records only.");
    // Asking for another team in the page changes nothing: the gateway holds it to its own.
    await page.type('input[name="team"]', 'team-b');
    await page.click('form.filters button[type="submit"]');
    await page.waitForSelector('[data-testid="audit-table"]');
    expect(await attrs(page, '[data-testid="audit-table"] tbody tr', 'data-audit-id')).toEqual((await adminApi('GET', '/v1/audit?limit=25&team=team-b', TEAM_ADMIN)).body.data.map((r: any) => r.id));
    expect((await cells(page, '[data-testid="audit-table"] tbody tr')).every((r) => r[4].endsWith('(team-a)'))).toBe(true);
    await screenshot(page, SHOTS, 'team-admin-audit');
    await context.close();
  });

  test('the keys page pages on the server: Next and Previous show the API\'s pages of 20', async () => {
    for (let i = 0; i < 23; i++) expect((await adminApi('POST', '/v1/keys', ADMIN, { name: `paging-${String(i).padStart(2, '0')}`, team: 'team-p' })).status).toBe(201);
    const first = (await adminApi('GET', '/v1/keys?limit=20')).body;
    const second = (await adminApi('GET', `/v1/keys?limit=20&after=${first.last_id}`)).body;
    expect(first.has_more).toBe(true);
    // The pages are the unpaged listing cut in 20s (not only whatever the paged API says).
    const every = (await adminApi('GET', '/v1/keys')).body.data.map((k: any) => k.id);
    expect([first.data.map((k: any) => k.id), second.data.map((k: any) => k.id)]).toEqual([every.slice(0, 20), every.slice(20, 40)]);
    const { context, page } = await signIn(ADMIN);
    const shown = () => attrs(page, '[data-testid="keys-table"] tbody tr', 'data-key-id');
    const requests: string[] = [];
    page.on('request', (r) => r.url().includes('/v1/keys?') && requests.push(new URL(r.url()).search));
    await goto(page, '#/keys');
    await page.waitForSelector('[data-testid="keys-table"]');
    expect(await shown()).toEqual(first.data.map((k: any) => k.id));
    // Newest first: the last keys made lead the first page.
    expect((await cells(page, '[data-testid="keys-table"] tbody tr')).slice(0, 3).map((r) => r[0])).toEqual(['paging-22', 'paging-21', 'paging-20']);
    expect(await page.evaluate(`document.querySelector('nav.pager button:first-of-type').disabled`)).toBe(true);
    await page.click('nav.pager button:last-of-type');
    await waitForText(page, 'Page 2');
    await page.waitForFunction(`document.querySelector('[data-testid="keys-table"] tbody tr').getAttribute('data-key-id') === ${JSON.stringify(second.data[0].id)}`);
    expect(await shown()).toEqual(second.data.map((k: any) => k.id));
    expect((await cells(page, '[data-testid="keys-table"] tbody tr')).slice(0, 3).map((r) => r[0])).toEqual(['paging-02', 'paging-01', 'paging-00']);
    expect(await page.evaluate(`document.querySelector('nav.pager button:last-of-type').disabled`)).toBe(!second.has_more);
    await screenshot(page, SHOTS, 'keys-page-2');
    await page.click('nav.pager button:first-of-type');
    await waitForText(page, 'Page 1');
    await page.waitForFunction(`document.querySelector('[data-testid="keys-table"] tbody tr').getAttribute('data-key-id') === ${JSON.stringify(first.data[0].id)}`);
    expect(await shown()).toEqual(first.data.map((k: any) => k.id));
    // The page asked the gateway for one page at a time (limit and cursor), never for every key.
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const q of requests) expect(q).toMatch(/^\?limit=20(&after=[\w-]+)?$/);
    expect(requests).toContain(`?limit=20&after=${first.last_id}`);
    await context.close();
  });

  test('the usage explorer pages on the server: more than a page of keys grouped by key, Next shows the rest', async () => {
    // 51 more keys with one request each through Envoy: with the keys of earlier tests, over one page of 50 groups.
    const made: string[] = [];
    for (let i = 0; i < 51; i++) {
      const { body: key } = await adminApi('POST', '/v1/keys', ADMIN, { name: `usage-page-${i}` });
      made.push(key.id);
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'page' }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    const whole = await waitFor(async () => {
      const body = (await adminApi('GET', '/v1/usage?group_by=key')).body;
      // Every request recorded (the usage writer flushes in batches): the report is complete.
      const seen = new Set(body.data.map((r: any) => r.group));
      return made.every((id) => seen.has(id)) ? body : undefined;
    }, 10_000, 100);
    const groups = whole.data.map((r: any) => r.group ?? '');
    const { context, page } = await signIn(ADMIN);
    const requests: string[] = [];
    page.on('request', (r) => r.url().includes('/v1/usage?') && r.url().includes('group_by=key') && requests.push(new URL(r.url()).search));
    await goto(page, '#/usage');
    const shown = async () => (await cells(page, 'table tbody tr')).map((r) => (r[0] === '—' || r[0] === '(none)' ? '' : r[0]));
    await page.waitForSelector('nav.pager');
    await page.click('form.filters button[type="submit"]');
    await waitFor(async () => (await shown()).length === 50, 10_000, 100);
    const first = await shown();
    await page.click('nav.pager button:last-of-type');
    await waitForText(page, 'Page 2');
    await waitFor(async () => (await shown())[0] !== first[0], 10_000, 100);
    const second = await shown();
    // The page's two pages are the whole report, in the API's order, the second the rest of it.
    expect(first.length + second.length).toBe(groups.length);
    expect(first).toEqual(groups.slice(0, 50).map(String));
    expect(second.length).toBe(groups.length - 50);
    expect(await page.evaluate(`document.querySelector('nav.pager button:last-of-type').disabled`)).toBe(true);
    await waitForText(page, 'Export CSV saves the whole report');
    // Each page asked for 50 groups from an offset, never for the whole report.
    expect(requests.some((q) => /limit=50&offset=50/.test(q))).toBe(true);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const q of requests) expect(q).toMatch(/limit=50&offset=\d+/);
    await context.close();
  });

  test('a JWT session ends at the token\'s expiry, and a revoked admin key ends its session at once', async () => {
    const exp = Math.floor(Date.now() / 1000) + 90;
    const jwt = await hs256Jwt({ sub: 'jwt-ops', roles: ['admin'], aud: AUDIENCE, exp }, JWT_SECRET);
    const { context, page } = await signIn(jwt);
    expect(await textOf(page, '[data-testid="who"]')).toBe('jwt-ops');
    const session = await page.evaluate(`fetch('/console/session', { headers: { 'x-gateway-console': '1' } }).then((r) => r.json())`);
    expect((session as any).expires_at).toBe(new Date(exp * 1000).toISOString());
    expect(await pageState(page)).not.toContain(jwt);
    await context.close();

    // An admin key made for this, signed in, then revoked: the open page is signed out.
    const made = await adminApi('POST', '/v1/keys', ADMIN, { name: 'temp-admin', roles: ['admin'] });
    const second = await signIn(made.body.key);
    await adminApi('DELETE', `/v1/keys/${made.body.id}`);
    await second.page.evaluate(`location.hash = '#/audit'`);
    await second.page.waitForSelector('#credential');
    expect(await second.page.$('nav[aria-label="Console pages"]')).toBeNull();
    // The session is gone on the gateway too, not only in the page.
    const [cookie] = await second.context.cookies();
    const res = await fetch(`${gw.url}/console/session`, { headers: { cookie: `gw_console=${cookie.value}`, 'x-gateway-console': '1' } });
    expect(((await res.json()) as any).error.code).toBe('invalid_session');
    await second.context.close();
  });

  test('long lists page on the server: keys by `limit`/`after`, the audit log by `before` cursors', async () => {
    const all = (await adminApi('GET', '/v1/keys')).body.data.map((k: any) => k.id);
    expect(all.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await adminApi('GET', `/v1/keys?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`)).body;
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((k: any) => k.id));
      if (!page.has_more) break;
      after = page.last_id;
    }
    expect(seen).toEqual(all);
    for (const bad of ['limit=0', 'limit=abc', 'limit=1001', 'after=no-such-key']) {
      const res = await adminApi('GET', `/v1/keys?${bad}`);
      expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', bad.split('=')[0]]);
    }

    const everything = (await adminApi('GET', '/v1/audit?limit=1000')).body.data.map((r: any) => r.id);
    const walked: string[] = [];
    let before: string | null = null;
    do {
      const page: any = (await adminApi('GET', `/v1/audit?limit=3${before ? `&before=${before}` : ''}`)).body;
      walked.push(...page.data.map((r: any) => r.id));
      before = page.has_more ? page.next_cursor : null;
    } while (before);
    expect(everything.length).toBeGreaterThan(3);
    expect(walked).toEqual(everything);
    for (const bad of ['bm90LWEtY3Vyc29y', '!!', 'x'.repeat(500)]) {
      const res = await adminApi('GET', `/v1/audit?before=${bad}`);
      expect([res.status, res.body.error.param]).toEqual([400, 'before']);
    }
  });

  test('no key, token or session id ever reaches the gateway\'s logs', () => {
    const output = gw.output();
    expect(output.length).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(6);
    for (const s of secrets) if (s) expect(output).not.toContain(s);
  });

  test('the page and its files carry a strict Content-Security-Policy, and an injected inline script does not run', async () => {
    const res = await fetch(`${gw.url}/console`);
    const html = await res.text();
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values] as [string, string[]]));
    expect(Object.fromEntries(['default-src', 'script-src', 'frame-ancestors', 'base-uri', 'form-action'].map((d) => [d, directives.get(d)]))).toEqual({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'frame-ancestors': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
    });
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect([res.headers.get('x-content-type-options'), res.headers.get('cache-control'), res.headers.get('content-type')]).toEqual(['nosniff', 'no-cache', 'text/html; charset=utf-8']);
    // No inline script: every <script> loads a built file of the gateway's; no handler attributes.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/console\/app-[A-Z0-9]+\.js"/);
      expect(inline.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son\w+=|javascript:|https?:\/\//i);
    for (const [, file] of html.matchAll(/(?:src|href)="\/console\/([\w.-]+)"/g)) {
      const asset = await fetch(`${gw.url}/console/${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toBe(file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      expect([asset.headers.get('cache-control'), asset.headers.get('x-content-type-options'), asset.headers.get('content-security-policy')]).toEqual([
        'public, max-age=31536000, immutable',
        'nosniff',
        csp,
      ]);
      // Everything is bundled: the files load nothing from elsewhere.
      expect(await asset.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)[\w.-]+\.[a-z]{2,}\//);
    }
    expect([400, 404]).toContain((await fetch(`${gw.url}/console/..%2Fpackage.json`)).status);
    expect((await fetch(`${gw.url}/console/nothing.js`)).status).toBe(404);

    const { context, page } = await signIn(ADMIN);
    const violations: string[] = [];
    page.on('console', (m) => violations.push(m.text()));
    const ran = await page.evaluate(`(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__injectedInline = true';
      document.body.appendChild(s);
      const box = document.createElement('div');
      box.innerHTML = '<img src="data:," onerror="window.__injectedHandler = true">';
      document.body.appendChild(box);
      await new Promise((r) => setTimeout(r, 200));
      return [window.__injectedInline === true, window.__injectedHandler === true];
    })()`);
    expect(ran).toEqual([false, false]);
    expect(violations.join('\n')).toMatch(/Content Security Policy/);
    // Those were the injected ones: expected here.
    pageErrors.splice(0);
    await context.close();
  });
});
