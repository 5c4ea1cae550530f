import { AdminRouter } from '../../src/admin/router';
import { listeningPorts } from '../../src/config/ports';
import { parseConfig } from '../../src/config/load';

/** The router's afterChange hook: processor workers re-read the store before a change is answered. */
describe('AdminRouter afterChange', () => {
  function router(order: string[]) {
    const r = new AdminRouter(async () => {
      order.push('afterChange');
    });
    r.add('GET', '/v1/things', () => ({ status: 200, body: [] }));
    r.add('POST', '/v1/things', () => (order.push('handler'), { status: 201, body: {} }));
    r.add('DELETE', '/v1/things/:id', (req) => (order.push('handler'), req.params.id === 'missing' ? { status: 404, body: {} } : { status: 200, body: {} }));
    return r;
  }
  const req = (method: string, path: string) => ({ method, path, query: new URLSearchParams(), headers: {}, body: undefined });

  test('runs after a successful change, before the answer is returned', async () => {
    const order: string[] = [];
    const res = await router(order).dispatch(req('POST', '/v1/things'));
    expect(res.status).toBe(201);
    expect(order).toEqual(['handler', 'afterChange']);
  });

  test('not for reads, refused changes or unknown routes', async () => {
    const order: string[] = [];
    const r = router(order);
    await r.dispatch(req('GET', '/v1/things'));
    await r.dispatch(req('HEAD', '/v1/things'));
    expect((await r.dispatch(req('DELETE', '/v1/things/missing'))).status).toBe(404);
    expect((await r.dispatch(req('PUT', '/v1/things'))).status).toBe(405);
    expect((await r.dispatch(req('POST', '/v1/nothing'))).status).toBe(404);
    expect(order).toEqual(['handler']);
  });
});

describe('listening ports with processor workers', () => {
  test('ext_proc_port is checked only when there are workers', () => {
    const keys = (raw: object) => listeningPorts(parseConfig(raw, process.cwd(), {})).map((p) => p.key);
    expect(keys({})).not.toContain('processor.ext_proc_port');
    expect(keys({ processor: { workers: 2, ext_proc_port: 19004 } })).toContain('processor.ext_proc_port');
  });
});
