import { errorBody } from '../../domain/errors';
import { presentedSecret } from '../../keys/presented';
import type { AuditSink } from '../audit-helpers';
import { actorOf, isResponse, type AdminCaller, type Authenticate } from '../auth';
import type { AdminRequest, AdminResponse, AdminRouter } from '../router';
import { CONSOLE_CSP, consoleAsset } from './assets';
import { CONSOLE_HEADER, cookieValue, SESSION_COOKIE, sessionOf, type ConsoleSessions } from './sessions';

const PAGE_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
/** Session answers carry who is signed in: never cached, by the browser or in between. */
const NO_STORE = { 'cache-control': 'no-store' };

const notFound = (req: AdminRequest): AdminResponse => ({ status: 404, body: errorBody(404, 'unknown_url', `Unknown request URL: ${req.method} ${req.path}.`) });

function header(req: AdminRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (never sent by another
 * site's pages), Path=/ (the admin API's paths), Secure when the browser came over TLS (Envoy
 * sets x-forwarded-proto).
 */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

const overTls = (req: AdminRequest) => header(req, 'x-forwarded-proto')?.split(',')[0].trim().toLowerCase() === 'https';

const sessionView = (caller: AdminCaller, expiresAt: number | null) => ({
  object: 'console.session',
  credential: caller.kind,
  identity: caller.identity,
  team: caller.team,
  expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
});

/**
 * The admin console: the page (GET /console), its built files (GET /console/{asset}) and its
 * session (POST to sign in with an admin key or JWT, GET for who is signed in, DELETE to sign
 * out). Signing in runs the admin API's own authenticator on the credential presented in the
 * Authorization header (same rules, same `admin.login_failed` audit); the page then calls the
 * admin API itself with the session cookie and the console header, and so has no powers of its own.
 */
export function registerConsoleRoutes(router: AdminRouter, sessions: ConsoleSessions, authenticate: Authenticate, audit?: AuditSink): void {
  const page = (): AdminResponse => {
    const html = consoleAsset('index.html');
    if (!html) return { status: 404, body: errorBody(404, 'unknown_url', 'The admin console was not built (run `npm run build`).') };
    return { status: 200, body: undefined, raw: html.text, headers: { 'content-type': html.contentType, 'cache-control': 'no-cache', ...PAGE_HEADERS } };
  };
  router.add('GET', '/console', page);

  // Registered before /console/:asset: the router takes the first route whose path matches.
  router.add('POST', '/console/session', async (req) => {
    // Only a credential presented now opens a session: an existing session never extends itself.
    const headers = { ...req.headers };
    delete headers.cookie;
    delete headers[CONSOLE_HEADER];
    const caller = await authenticate({ ...req, headers }, { requireAdmin: true });
    if (isResponse(caller)) return caller;
    const credential = presentedSecret((name) => header(req, name))!;
    const { id, expiresAt } = sessions.open(credential);
    audit?.record({ action: 'console.signed_in', outcome: 'success', actor: actorOf(caller), requestId: caller.requestId, details: { credential: caller.kind } });
    // Rounded: the session was opened a moment ago, so the lifetime's whole seconds (7199.999 s is 7200); the session's own expiry is what counts.
    const maxAge = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    return { status: 201, body: sessionView(caller, expiresAt), headers: { ...NO_STORE, 'set-cookie': sessionCookie(id, maxAge, overTls(req)) } };
  });
  router.add('GET', '/console/session', async (req) => {
    const caller = await authenticate(req, { requireAdmin: true });
    if (isResponse(caller)) return caller;
    const session = sessionOf(sessions, req.headers);
    return { status: 200, body: sessionView(caller, session && session !== 'unknown' ? session.expiresAt : null), headers: NO_STORE };
  });
  router.add('DELETE', '/console/session', (req): AdminResponse => {
    // Knowing the session id is what it takes to end it; the cookie is cleared either way.
    const id = header(req, CONSOLE_HEADER) === '1' ? cookieValue(req.headers.cookie, SESSION_COOKIE) : undefined;
    const headers = { ...NO_STORE, 'set-cookie': sessionCookie('', 0, overTls(req)) };
    if (id === undefined || !sessions.close(id)) {
      return { status: 401, body: errorBody(401, 'invalid_session', 'There is no console session to sign out of.'), headers };
    }
    return { status: 200, body: { object: 'console.session', signed_out: true }, headers };
  });

  router.add('GET', '/console/:asset', (req): AdminResponse => {
    const name = req.params.asset;
    if (name === 'index.html') return page();
    const asset = consoleAsset(name);
    if (!asset) return notFound(req);
    // Built files carry a hash of their content in their name: cached for good.
    return { status: 200, body: undefined, raw: asset.text, headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=31536000, immutable', ...PAGE_HEADERS } };
  });
}
