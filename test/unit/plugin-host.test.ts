import pino from 'pino';
import { GatewayError } from '../../src/domain/errors';
import { PluginHost, type LoadedPlugin } from '../../src/plugins/host';
import type { PluginHooks, RequestContext } from '../../src/plugins/api';
import { respond } from '../../src/plugins/api';

const log = pino({ level: 'silent' });
const ctx = { requestId: 'r1' } as unknown as RequestContext;

function host(...plugins: [string, PluginHooks, Partial<LoadedPlugin>?][]) {
  const failures: unknown[] = [];
  const h = new PluginHost(
    plugins.map(([name, hooks, extra]) => ({ name, hooks, timeoutMs: 50, onError: 'fail_closed', ...extra })),
    log,
    (f) => failures.push(f),
  );
  return { h, failures };
}

describe('PluginHost', () => {
  test('runs hooks in configuration order and stops at a short-circuit', async () => {
    const order: string[] = [];
    const { h } = host(
      ['a', { onRequest: () => void order.push('a') }],
      ['b', { onRequest: () => (order.push('b'), respond(418, { teapot: true })) }],
      ['c', { onRequest: () => void order.push('c') }],
    );
    const out = await h.run('onRequest', ctx);
    expect(order).toEqual(['a', 'b']);
    expect(out).toMatchObject({ status: 418, body: { teapot: true } });
  });

  test('a GatewayError is an intended answer whatever the policy', async () => {
    const { h, failures } = host(['auth', { onRequest: () => { throw new GatewayError(401, 'invalid_api_key', 'nope'); } }, { onError: 'fail_open' }]);
    const out = await h.run('onRequest', ctx);
    expect(out).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key', type: 'authentication_error' } } });
    expect(failures).toHaveLength(0);
  });

  test.each([
    ['throws', () => { throw new Error('boom'); }, 'plugin_error', 'failed'],
    ['rejects', async () => { throw new Error('boom'); }, 'plugin_error', 'failed'],
    ['times out', () => new Promise<void>((r) => setTimeout(r, 500)), 'plugin_timeout', 'timed out'],
  ])('a plugin that %s fails closed with a 500 naming it', async (_n, hook, code, words) => {
    const { h, failures } = host(['broken', { onRequest: hook as PluginHooks['onRequest'] }]);
    const out = await h.run('onRequest', ctx);
    expect(out?.status).toBe(500);
    expect(out?.body).toMatchObject({ error: { code, message: `plugin "broken" ${words} during onRequest` } });
    expect(failures).toEqual([{ plugin: 'broken', hook: 'onRequest', policy: 'fail_closed' }]);
  });

  test('fail_open skips the failing plugin and runs the rest', async () => {
    let ran = false;
    const { h, failures } = host(['broken', { onRequest: () => { throw new Error('x'); } }, { onError: 'fail_open' }], ['next', { onRequest: () => void (ran = true) }]);
    expect(await h.run('onRequest', ctx)).toBeUndefined();
    expect(ran).toBe(true);
    expect(failures).toHaveLength(1);
  });

  test('onComplete failures are logged, never thrown', async () => {
    const { h, failures } = host(['c', { onComplete: () => { throw new Error('x'); } }]);
    await expect(h.complete(ctx)).resolves.toBeUndefined();
    expect(failures).toHaveLength(1);
  });

  test('has() reports which stages have hooks', () => {
    const { h } = host(['a', { onResponseChunk: () => undefined }]);
    expect(h.has('onResponseChunk')).toBe(true);
    expect(h.has('onRequest')).toBe(false);
  });
});
