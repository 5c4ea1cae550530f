/**
 * Calls to the gateway's admin API from the console. The browser sends the HttpOnly session
 * cookie by itself; the `x-gateway-console` header on every call is what makes the cookie count
 * (another site's form cannot send it). The credential itself is never held here.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
    readonly param: string | null,
  ) {
    super(message);
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the gateway says the session is over (signed out elsewhere, expired, revoked). */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

const SESSION_ENDED = new Set(['invalid_session', 'missing_api_key', 'invalid_api_key', 'revoked_api_key', 'expired_api_key', 'expired_token', 'invalid_token']);

async function request(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'x-gateway-console': '1', accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (res.ok) return res;
  let error: { message?: string; code?: string; param?: string } = {};
  try {
    error = ((await res.json()) as { error?: typeof error }).error ?? {};
  } catch {
    // Not JSON: the status says enough.
  }
  const failure = new ApiError(res.status, error.message ?? `The gateway answered ${res.status}.`, error.code ?? null, error.param ?? null);
  if (res.status === 401 && path !== '/console/session' && SESSION_ENDED.has(failure.code ?? '')) signedOutListeners.forEach((l) => l());
  throw failure;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await request(method, path, { body })).json() as Promise<T>;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** A text answer (the usage report as CSV). */
export async function getText(path: string): Promise<string> {
  return (await request('GET', path, { headers: { accept: 'text/csv' } })).text();
}

export interface Session {
  credential: 'api_key' | 'jwt';
  identity: string | null;
  team: string | null;
  expires_at: string | null;
}

/** Signs in with an admin key or JWT: sent once, in the Authorization header; the answer sets the cookie. */
export async function signIn(credential: string): Promise<Session> {
  const res = await request('POST', '/console/session', { headers: { authorization: `Bearer ${credential}` } });
  return res.json() as Promise<Session>;
}

export async function currentSession(): Promise<Session | null> {
  try {
    return await get<Session>('/console/session');
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
}

export async function signOut(): Promise<void> {
  await request('DELETE', '/console/session').catch(() => undefined);
}

/** A query string of the values given (empty ones left out). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
