import { parseConfig } from '../../src/config/load';
import { ADMIN_KEEP_ALIVE_MS, MAX_ADMIN_BODY_BYTES } from '../../src/admin/server';
import { AdminRouter, type AdminResponse, type BodyReader } from '../../src/admin/router';
import type { AdminCaller, Authenticate } from '../../src/admin/auth';
import { ADMIN_CLUSTER, ADMIN_ROUTES, buildBootstrap } from '../../src/envoy/config/bootstrap';

/** Admin bodies: read only after authentication, and held to a small limit by Envoy as well. */

const caller: AdminCaller = { kind: 'api_key', keyId: 'k', identity: 'admin', team: null, roles: ['admin'], isAdmin: true, requestId: 'r' };
const refused: AdminResponse = { status: 401, body: { error: { message: 'no', type: 'authentication_error', param: null, code: 'missing_api_key' } } };

function setup(accept: boolean) {
  const router = new AdminRouter();
  const authenticate: Authenticate = router.withBodyAfterAuth(async () => (accept ? caller : refused));
  let reads = 0;
  const reader: BodyReader = async () => {
    reads++;
    return { body: { user: 'x' } };
  };
  router.add('POST', '/v1/keys', async (req) => {
    const who = await authenticate(req, { requireAdmin: true });
    if ('status' in who) return who;
    await authenticate(req, { requireAdmin: true });
    return { status: 201, body: req.body };
  });
  router.add('POST', '/health', async (req) => ({ status: 200, body: { saw: req.body ?? null } }));
  const dispatch = (path: string) => router.dispatch({ method: 'POST', path, query: new URLSearchParams(), headers: {}, body: undefined }, reader);
  return { dispatch, reads: () => reads };
}

describe('AdminRouter.withBodyAfterAuth', () => {
  test('a refused caller is answered without the body being read', async () => {
    const { dispatch, reads } = setup(false);
    expect((await dispatch('/v1/keys')).status).toBe(401);
    expect(reads()).toBe(0);
  });

  test('an accepted caller gets the body, read once however often it authenticates', async () => {
    const { dispatch, reads } = setup(true);
    expect(await dispatch('/v1/keys')).toEqual({ status: 201, body: { user: 'x' } });
    expect(reads()).toBe(1);
  });

  test('a route that authenticates no one never reads a body; unknown routes neither', async () => {
    const { dispatch, reads } = setup(true);
    expect((await dispatch('/health')).body).toEqual({ saw: null });
    expect((await dispatch('/nowhere')).status).toBe(404);
    expect(reads()).toBe(0);
  });

  test('a body the reader refuses (413) is the answer', async () => {
    const router = new AdminRouter();
    const authenticate = router.withBodyAfterAuth(async () => caller);
    const tooLarge: AdminResponse = { status: 413, body: { error: { message: 'big', type: 'invalid_request_error', param: null, code: 'request_too_large' } } };
    router.add('POST', '/v1/keys', async (req) => {
      const who = await authenticate(req, { requireAdmin: true });
      return 'status' in who ? who : { status: 201, body: null };
    });
    const res = await router.dispatch({ method: 'POST', path: '/v1/keys', query: new URLSearchParams(), headers: {}, body: undefined }, async () => tooLarge);
    expect(res).toBe(tooLarge);
  });
});

describe('Envoy bootstrap for the admin routes', () => {
  const bootstrap: any = buildBootstrap(parseConfig({}, '/tmp'));
  const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const routes: any[] = hcm.route_config.virtual_hosts[0].routes;

  test('the buffer filter is off by default and on, at the admin limit, for every admin route only', () => {
    expect(hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.buffer').disabled).toBe(true);
    const admin = routes.filter((r) => r.route.cluster === ADMIN_CLUSTER);
    expect(admin).toHaveLength(ADMIN_ROUTES.length);
    for (const r of admin) {
      expect(r.typed_per_filter_config['envoy.filters.http.buffer'].config.buffer).toEqual({ max_request_bytes: MAX_ADMIN_BODY_BYTES });
    }
    for (const r of routes.filter((x) => x.route.cluster !== ADMIN_CLUSTER)) {
      expect(r.typed_per_filter_config?.['envoy.filters.http.buffer']).toBeUndefined();
    }
  });

  test('Envoy drops idle admin connections before the admin server would close them', () => {
    const cluster = bootstrap.static_resources.clusters.find((c: any) => c.name === ADMIN_CLUSTER);
    const idle = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].common_http_protocol_options.idle_timeout;
    expect(parseFloat(idle) * 1000).toBeLessThan(ADMIN_KEEP_ALIVE_MS);
  });
});
