import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { localCluster, providerCluster, socketAddress } from '../../src/envoy/config/clusters';
import { findEnvoy } from '../../src/envoy/supervisor';
import { toRuntime } from '../../src/control/provider-registry';
import { XdsServer } from '../../src/envoy/xds/server';
import { freePorts } from '../helpers/ports';

/**
 * Real Envoys fed clusters by XdsServer over ADS: one on state-of-the-world xDS, one on delta
 * xDS, both connected to the same server at once. Clusters come and go without a restart.
 */

const runtime = (name: string, baseUrl: string) =>
  toRuntime({ name, type: 'openai-compatible', base_url: baseUrl, models: ['*'], headers: {}, timeout_seconds: 0 }, {});

interface Reply {
  status: number;
  body: string;
}

function request(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`timeout ${urlPath}`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

interface TestEnvoy {
  name: string;
  apiType: 'GRPC' | 'DELTA_GRPC';
  adminPort: number;
  httpPort: number;
  proc?: ChildProcess;
  output: string;
}

function bootstrap(e: TestEnvoy, xdsPort: number): object {
  return {
    node: { id: `xds-test-${e.name}`, cluster: 'xds-test' },
    admin: { address: socketAddress('127.0.0.1', e.adminPort) },
    dynamic_resources: {
      ads_config: {
        api_type: e.apiType,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }],
        set_node_on_first_message_only: true,
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [localCluster('xds', '127.0.0.1', xdsPort, true)],
      listeners: [
        {
          name: 'http',
          address: socketAddress('127.0.0.1', e.httpPort),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'xds_test',
                    route_config: {
                      name: 'local',
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster_header: 'x-cluster', auto_host_rewrite: true, timeout: '10s' } }],
                        },
                      ],
                    },
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

async function clusterNames(e: TestEnvoy): Promise<string[]> {
  const r = await request(e.adminPort, '/clusters?format=json');
  const parsed = JSON.parse(r.body) as { cluster_statuses?: { name: string }[] };
  return (parsed.cluster_statuses ?? []).map((c) => c.name);
}

describe('xDS: provider clusters served to a running Envoy over ADS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xds-e2e-'));
  const logLines: Record<string, any>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
  let xds = new XdsServer(log);
  let grpcServer = new grpc.Server();
  let xdsPort = 0;
  const envoys: TestEnvoy[] = [];
  const timings: Record<string, number[]> = { setClustersFirstCall: [], added: [], removed: [], addedLater: [] };
  let upstream: http.Server;
  let upstreamUrl = '';
  const upstreamSeen: { path: string; host: string | undefined }[] = [];
  let slowArrived: (() => void) | undefined;

  const goodCluster = () => providerCluster(runtime('up', upstreamUrl));
  const otherCluster = () => providerCluster(runtime('other', upstreamUrl));

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      upstreamSeen.push({ path: req.url ?? '', host: req.headers.host });
      const reply = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ upstream: true, path: req.url, host: req.headers.host }));
      };
      if (req.url?.endsWith('/slow')) {
        slowArrived?.();
        setTimeout(reply, 1500);
      } else reply();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1`;

    const ads = xds.service();
    grpcServer.addService(ads.definition, ads.implementation);
    xdsPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );

    const [a1, h1, a2, h2] = await freePorts(4);
    envoys.push({ name: 'sotw', apiType: 'GRPC', adminPort: a1, httpPort: h1, output: '' });
    envoys.push({ name: 'delta', apiType: 'DELTA_GRPC', adminPort: a2, httpPort: h2, output: '' });
    const bin = findEnvoy().bin;
    for (const e of envoys) {
      const file = path.join(dir, `${e.name}.json`);
      fs.writeFileSync(file, JSON.stringify(bootstrap(e, xdsPort)));
      const args = ['-c', file, '--concurrency', '1', '--log-level', 'error', '--disable-hot-restart', '--drain-time-s', '1'];
      // setpriv: the kernel stops Envoy if the test runner dies.
      const [cmd, cmdArgs] = fs.existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', bin, ...args]] : [bin, args];
      const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d: Buffer) => (e.output += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (e.output += d.toString()));
      e.proc = proc;
    }
    for (const e of envoys) {
      await until(`${e.name} Envoy ready`, async () => (await request(e.adminPort, '/ready')).status === 200, 20000, 50).catch((err: Error) => {
        throw new Error(`${err.message}\n${e.output}`);
      });
    }
    // Both are connected and have taken the initial (empty) cluster set.
    await until('both Envoys subscribed to CDS', () => {
      const s = xds.status().streams;
      return s.length === 2 && s.every((st) => st.types['type.googleapis.com/envoy.config.cluster.v3.Cluster']?.acked === '0');
    });
  }, 40000);

  afterAll(async () => {
    await Promise.all(
      envoys.map(
        (e) =>
          new Promise<void>((resolve) => {
            const p = e.proc;
            if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
            const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
            p.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
    xds.close();
    grpcServer.forceShutdown();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
    if (process.env.XDS_TEST_DEBUG) console.log(logLines.filter((l) => l.level >= 30).map((l) => JSON.stringify(l)).join('\n'));
    if (process.env.XDS_TEST_DEBUG) for (const e of envoys) console.log(`${e.name} Envoy output:\n${e.output}`);
    // eslint-disable-next-line no-console
    console.log(`xDS timings in ms (setClusters → visible in /clusters): ${JSON.stringify(timings)}`);
  });

  test('a provider cluster added at run time takes traffic within 2 s', async () => {
    for (const e of envoys) expect((await clusterNames(e)).filter((n) => n.startsWith('provider_'))).toEqual([]);
    for (const e of envoys) expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_up' })).status).toBe(503);

    const started = Date.now();
    const version = xds.setClusters([goodCluster()]);
    timings.setClustersFirstCall.push(Date.now() - started); // includes loading the encoder's protos
    expect(version).not.toBe('0');
    await Promise.all(
      envoys.map(async (e) => {
        await until(`provider_up in ${e.name} /clusters`, async () => (await clusterNames(e)).includes('provider_up'), 2000);
        timings.added.push(Date.now() - started);
      }),
    );
    expect(await xds.waitForAck(version, 2000)).toBe(true);
    // The same set again is not a new version.
    expect(xds.setClusters([goodCluster()])).toBe(version);

    for (const e of envoys) {
      const r = await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_up' });
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({ upstream: true, path: '/v1/models' });
      // auto_host_rewrite takes the endpoint hostname set by providerCluster.
      expect(body.host).toBe(new URL(upstreamUrl).host);
    }
    const status = xds.status();
    expect(status.streams.map((s) => s.kind).sort()).toEqual(['delta', 'sotw']);
    expect(status.streams.every((s) => s.types['type.googleapis.com/envoy.config.cluster.v3.Cluster'].acked === version)).toBe(true);
  });

  test('removing a cluster does not drop the request in flight; new requests for it get 503', async () => {
    const [sotw] = envoys;
    const arrived = new Promise<void>((r) => (slowArrived = r));
    const inflight = request(sotw.httpPort, '/v1/slow', { 'x-cluster': 'provider_up' });
    await arrived;

    const started = Date.now();
    const version = xds.setClusters([otherCluster()]);
    expect(await xds.waitForAck(version, 2000)).toBe(true);
    await Promise.all(
      envoys.map(async (e) => {
        await until(`provider_up gone from ${e.name}`, async () => !(await clusterNames(e)).includes('provider_up'), 2000);
        timings.removed.push(Date.now() - started);
      }),
    );

    const r = await inflight;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ upstream: true, path: '/v1/slow' });
    expect(Date.now() - started).toBeGreaterThan(500);

    for (const e of envoys) {
      expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_up' })).status).toBe(503);
      expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_other' })).status).toBe(200);
    }
  });

  test('a cluster Envoy rejects is NACKed once, and the clusters that work keep working', async () => {
    const bad = {
      // STATIC clusters need IP addresses: Envoy rejects a hostname.
      name: 'provider_bad',
      type: 'STATIC',
      connect_timeout: '1s',
      load_assignment: { cluster_name: 'provider_bad', endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('bad.example.invalid', 80) } }] }] },
    };
    const good = xds.version;
    const nacksBefore = logLines.filter((l) => l.msg === 'Envoy rejected xDS update (NACK)').length;
    const version = xds.setClusters([otherCluster(), bad]);
    const started = Date.now();
    expect(await xds.waitForAck(version, 3000)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000); // false on the NACK itself, not by timeout

    // Both Envoys NACK (wait for the second, waitForAck returns on the first).
    await until('both NACKs', () => logLines.filter((l) => l.msg === 'Envoy rejected xDS update (NACK)').length - nacksBefore === 2);
    const nacks = logLines.filter((l) => l.msg === 'Envoy rejected xDS update (NACK)').slice(nacksBefore);
    for (const n of nacks) {
      expect(n.level).toBe(40);
      expect(n.version).toBe(version);
      expect(String(n.error)).toMatch(/provider_bad|STATIC|address|resolve/i);
    }
    for (const s of xds.status().streams) {
      const cds = s.types['type.googleapis.com/envoy.config.cluster.v3.Cluster'];
      expect(cds.acked).toBe(good);
      expect(cds.nacked?.version).toBe(version);
    }

    // Not resent in a loop: one response per stream carried that version.
    await sleep(500);
    const sent = logLines.filter((l) => /xDS response sent/.test(l.msg) && l.version === version);
    expect(sent).toHaveLength(2);

    for (const e of envoys) {
      expect(await clusterNames(e)).not.toContain('provider_bad');
      expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_other' })).status).toBe(200);
    }

    // Dropping the bad cluster is a new version Envoy takes.
    const fixed = xds.setClusters([otherCluster()]);
    expect(fixed).not.toBe(version);
    expect(await xds.waitForAck(fixed, 2000)).toBe(true);
  });

  test('an https provider cluster (TLS, SNI, system CA) is accepted', async () => {
    const secure = providerCluster(runtime('secure', 'https://api.example.invalid/v1'));
    const started = Date.now();
    const version = xds.setClusters([otherCluster(), secure]);
    await Promise.all(
      envoys.map(async (e) => {
        await until(`provider_secure in ${e.name}`, async () => (await clusterNames(e)).includes('provider_secure'), 2000);
        timings.addedLater.push(Date.now() - started);
      }),
    );
    expect(await xds.waitForAck(version, 3000)).toBe(true);
    for (const e of envoys) {
      expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_other' })).status).toBe(200);
    }
  });

  test('after a processor restart (new server, versions from 1 again) both Envoys reconnect and converge', async () => {
    const old = { xds, grpcServer };
    const restarted = new XdsServer(log);
    // Clusters are set before the server listens: a reconnecting Envoy never sees an empty set.
    const third = providerCluster(runtime('third', upstreamUrl));
    const version = restarted.setClusters([otherCluster(), third]);
    expect(version).toBe('1'); // the same version string the old server used for another set
    old.xds.close();
    old.grpcServer.forceShutdown();
    xds = restarted;
    grpcServer = new grpc.Server();
    const ads = restarted.service();
    grpcServer.addService(ads.definition, ads.implementation);
    await until('xDS port bound again', () =>
      new Promise<boolean>((resolve) => grpcServer.bindAsync(`127.0.0.1:${xdsPort}`, grpc.ServerCredentials.createInsecure(), (err) => resolve(!err))),
    );
    expect(await restarted.waitForAck(version, 15000)).toBe(true);
    await until('both streams back', () => restarted.status().streams.length === 2 || undefined, 15000, 50);
    expect(await restarted.waitForAck(version, 5000)).toBe(true);
    for (const e of envoys) {
      await until(`${e.name} converged`, async () => {
        const names = await clusterNames(e);
        return names.includes('provider_third') && !names.includes('provider_secure');
      }, 5000);
      expect((await request(e.httpPort, '/v1/models', { 'x-cluster': 'provider_third' })).status).toBe(200);
    }
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
  }, 40000);
});
