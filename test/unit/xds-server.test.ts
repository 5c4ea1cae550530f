import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { providerCluster } from '../../src/envoy/config/clusters';
import { loadProtos } from '../../src/envoy/extproc/protos';
import { toRuntime } from '../../src/control/provider-registry';
import { decodeAny } from '../../src/envoy/xds/encode';
import { ADS_PROTO, CLUSTER_TYPE_URL, XdsServer } from '../../src/envoy/xds/server';

/** The xDS protocol as a scripted client sees it: no Envoy, exact control over ACKs and NACKs. */

const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const cluster = (name: string, port = 8000) =>
  providerCluster(toRuntime({ name, type: 'openai-compatible', base_url: `http://127.0.0.1:${port}/v1`, models: ['*'], headers: {}, timeout_seconds: 0 }, {}));

/** A bidirectional stream whose responses can be awaited one at a time. */
class Client<Req, Res> {
  private readonly queue: Res[] = [];
  private readonly waiting: ((r: Res) => void)[] = [];
  constructor(readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on('data', (r: Res) => {
      const w = this.waiting.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    call.on('error', () => undefined);
  }
  send(req: Req): void {
    this.call.write(req);
  }
  next(timeoutMs = 2000): Promise<Res> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        reject(new Error('no response'));
      }, timeoutMs);
      const w = (r: Res) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiting.push(w);
    });
  }
  /** Resolves true if nothing arrives within ms. */
  async quiet(ms = 200): Promise<boolean> {
    return this.next(ms).then(
      () => false,
      () => true,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('XdsServer protocol', () => {
  const lines: Record<string, any>[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  let xds: XdsServer;
  let server: grpc.Server;
  let ctor: grpc.ServiceClientConstructor;
  let address = '';
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    const pkg = loadProtos([ADS_PROTO]) as any;
    ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  });

  beforeEach(async () => {
    lines.length = 0;
    xds = new XdsServer(log);
    server = new grpc.Server();
    const s = xds.service();
    server.addService(s.definition, s.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    xds.close();
    server.forceShutdown();
  });

  const sotw = () => {
    const c = new ctor(address, grpc.credentials.createInsecure());
    clients.push(c);
    return new Client<any, any>((c as any).StreamAggregatedResources());
  };
  const delta = () => {
    const c = new ctor(address, grpc.credentials.createInsecure());
    clients.push(c);
    return new Client<any, any>((c as any).DeltaAggregatedResources());
  };
  const names = (res: any) => (res.resources ?? []).map((r: any) => decodeAny(r).name);
  const ack = (c: Client<any, any>, res: any, extra: object = {}) => c.send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, ...extra });

  test('initial request gets the current set, even empty; ACK settles waitForAck', async () => {
    const c = sotw();
    c.send({ node: { id: 'n1' }, type_url: CLUSTER_TYPE_URL });
    const first = await c.next();
    expect(first).toMatchObject({ version_info: '0', type_url: CLUSTER_TYPE_URL });
    expect(first.resources ?? []).toEqual([]);
    expect(first.nonce).toBeTruthy();
    const waiting = xds.waitForAck('0', 2000);
    ack(c, first);
    expect(await waiting).toBe(true);
    expect(await c.quiet()).toBe(true); // an ACK is not answered
    expect(lines.some((l) => l.msg === 'Envoy connected to ADS' && l.node === 'n1')).toBe(true);
  });

  test('pushes go to every subscribed stream; waitForAck needs all of them', async () => {
    const a = sotw();
    const b = sotw();
    for (const c of [a, b]) {
      c.send({ node: { id: 'n' }, type_url: CLUSTER_TYPE_URL });
      ack(c, await c.next());
    }
    const version = xds.setClusters([cluster('one')]);
    expect(version).toBe('1');
    const [ra, rb] = [await a.next(), await b.next()];
    for (const r of [ra, rb]) {
      expect(r.version_info).toBe('1');
      expect(names(r)).toEqual(['provider_one']);
      expect(r.resources[0].type_url).toBe(CLUSTER_TYPE_URL);
    }
    let settled: boolean | undefined;
    const waiting = xds.waitForAck(version, 2000).then((v) => (settled = v));
    ack(a, ra);
    await sleep(100);
    expect(settled).toBeUndefined();
    ack(b, rb);
    expect(await waiting).toBe(true);

    // Same set (other key order): same version, nothing pushed.
    const reordered = Object.fromEntries(Object.entries(cluster('one')).reverse());
    expect(xds.setClusters([reordered])).toBe('1');
    expect(await a.quiet()).toBe(true);
  });

  test('a NACK is logged, fails waitForAck at once and is not answered with a resend', async () => {
    const c = sotw();
    c.send({ node: { id: 'nack-node' }, type_url: CLUSTER_TYPE_URL });
    ack(c, await c.next());
    const good = xds.setClusters([cluster('one')]);
    ack(c, await c.next());
    expect(await xds.waitForAck(good, 1000)).toBe(true);

    const bad = xds.setClusters([cluster('one'), cluster('two')]);
    const res = await c.next();
    const started = Date.now();
    const waiting = xds.waitForAck(bad, 5000);
    // A NACK carries the last good version and the rejected response's nonce.
    c.send({ type_url: CLUSTER_TYPE_URL, version_info: good, response_nonce: res.nonce, error_detail: { code: 13, message: 'cluster two: nope' } });
    expect(await waiting).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await c.quiet(300)).toBe(true);
    const warn = lines.find((l) => l.msg === 'Envoy rejected xDS update (NACK)');
    expect(warn).toMatchObject({ level: 40, node: 'nack-node', version: bad, error: 'cluster two: nope' });
    expect(xds.status().streams[0].types[CLUSTER_TYPE_URL]).toEqual({ acked: good, nacked: { version: bad, error: 'cluster two: nope' } });
    // Asking again for an unchanged (rejected) set neither bumps nor resends.
    expect(xds.setClusters([cluster('two'), cluster('one')])).toBe(bad);
    expect(await c.quiet()).toBe(true);
    expect(await xds.waitForAck(bad, 100)).toBe(false);
    // A corrected set is a new version.
    const fixed = xds.setClusters([cluster('one')]);
    expect(fixed).not.toBe(good);
    ack(c, await c.next());
    expect(await xds.waitForAck(fixed, 1000)).toBe(true);
  });

  test('replies to an older nonce are not answered; the newest response wins', async () => {
    const c = sotw();
    c.send({ node: { id: 'n' }, type_url: CLUSTER_TYPE_URL });
    ack(c, await c.next());
    const v1 = xds.setClusters([cluster('one')]);
    const v2 = xds.setClusters([cluster('two')]);
    const r1 = await c.next();
    const r2 = await c.next();
    expect([r1.version_info, r2.version_info]).toEqual([v1, v2]);
    ack(c, r1); // stale: r2 is already on its way
    expect(await c.quiet()).toBe(true);
    expect(await xds.waitForAck(v1, 500)).toBe(true);
    let settled: boolean | undefined;
    const waiting = xds.waitForAck(v2, 2000).then((v) => (settled = v));
    await sleep(50);
    expect(settled).toBeUndefined();
    ack(c, r2);
    expect(await waiting).toBe(true);
  });

  test('other resource types get an empty set once, CDS pushes do not touch them', async () => {
    const c = sotw();
    c.send({ node: { id: 'n' }, type_url: LISTENER_TYPE_URL });
    const r = await c.next();
    expect(r).toMatchObject({ type_url: LISTENER_TYPE_URL, version_info: '0' });
    expect(r.resources ?? []).toEqual([]);
    ack(c, r);
    xds.setClusters([cluster('one')]);
    expect(await c.quiet()).toBe(true);
  });

  test('bad input changes nothing', () => {
    const before = xds.version;
    expect(() => xds.setClusters([cluster('one'), cluster('one')])).toThrow(/duplicate/);
    expect(() => xds.setClusters([{ connect_timeout: '1s' }])).toThrow(/name/);
    expect(() => xds.setClusters([{ ...cluster('one'), lb_policy: 'FASTEST' }])).toThrow(/FASTEST/);
    expect(xds.version).toBe(before);
  });

  test('waitForAck: no Envoy connected, unknown version, server closed', async () => {
    const v = xds.setClusters([cluster('one')]);
    expect(await xds.waitForAck(v, 100)).toBe(false);
    expect(await xds.waitForAck('99', 100)).toBe(false);
    expect(await xds.waitForAck('nope', 100)).toBe(false);
    const pending = xds.waitForAck(v, 5000);
    xds.close();
    expect(await pending).toBe(false);
  });

  test('a cancelled stream is dropped quietly and no longer counted', async () => {
    const a = sotw();
    const b = sotw();
    a.send({ node: { id: 'a' }, type_url: CLUSTER_TYPE_URL });
    b.send({ node: { id: 'b' }, type_url: CLUSTER_TYPE_URL });
    ack(a, await a.next());
    await b.next();
    const v = xds.setClusters([cluster('one')]);
    ack(a, await a.next());
    await b.next();
    const waiting = xds.waitForAck(v, 2000);
    b.call.cancel();
    expect(await waiting).toBe(true);
    await sleep(50);
    expect(xds.status().streams.map((s) => s.node)).toEqual(['a']);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  test('delta: sends only what changed, removals by name, nothing Envoy already has', async () => {
    const v1 = xds.setClusters([cluster('one'), cluster('two')]);
    const c = delta();
    c.send({ node: { id: 'd' }, type_url: CLUSTER_TYPE_URL });
    const first = await c.next();
    expect(first.system_version_info).toBe(v1);
    expect(first.resources.map((r: any) => r.name).sort()).toEqual(['provider_one', 'provider_two']);
    expect(first.resources[0].version).toMatch(/^[0-9a-f]{16}$/);
    c.send({ type_url: CLUSTER_TYPE_URL, response_nonce: first.nonce });
    expect(await xds.waitForAck(v1, 1000)).toBe(true);

    const v2 = xds.setClusters([cluster('two'), cluster('three')]);
    const upd = await c.next();
    expect(upd.resources.map((r: any) => r.name)).toEqual(['provider_three']);
    expect(upd.removed_resources).toEqual(['provider_one']);
    c.send({ type_url: CLUSTER_TYPE_URL, response_nonce: upd.nonce });
    expect(await xds.waitForAck(v2, 1000)).toBe(true);

    // Reconnecting with what it holds: only the difference comes back.
    const versions = Object.fromEntries(first.resources.map((r: any) => [r.name, r.version]));
    const again = delta();
    again.send({ node: { id: 'd2' }, type_url: CLUSTER_TYPE_URL, initial_resource_versions: versions });
    const resync = await again.next();
    expect(resync.resources.map((r: any) => r.name)).toEqual(['provider_three']);
    expect(resync.removed_resources).toEqual(['provider_one']);

    // A NACK: the rejected resource is sent again with the next change.
    const v3 = xds.setClusters([cluster('two'), cluster('three'), cluster('four')]);
    const r3 = await c.next();
    await again.next();
    expect(r3.resources.map((r: any) => r.name)).toEqual(['provider_four']);
    c.send({ type_url: CLUSTER_TYPE_URL, response_nonce: r3.nonce, error_detail: { code: 13, message: 'no four' } });
    expect(await xds.waitForAck(v3, 1000)).toBe(false);
    xds.setClusters([cluster('two'), cluster('three'), cluster('four'), cluster('five')]);
    const r4 = await c.next();
    expect(r4.resources.map((r: any) => r.name).sort()).toEqual(['provider_five', 'provider_four']);
  });
});
