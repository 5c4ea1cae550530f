import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/load';
import { embeddedDefaults } from '../../src/config/defaults';
import { buildBootstrap, providerClusters, writeBootstrap } from '../../src/envoy/config/bootstrap';
import { findEnvoy } from '../../src/envoy/supervisor';
import { mappingsFrom, ProviderRegistry, toRuntime } from '../../src/control/provider-registry';
import { FallbackPlanner } from '../../src/routing/fallbacks';
import { generateDevCerts } from '../../src/identity/dev-certs';

/**
 * Envoy says nothing about deprecated options on any generated bootstrap. It reports them in two
 * places: fields (such as `text_format`) when it loads the configuration, which `--mode validate`
 * shows too, and runtime keys (such as `overload.global_downstream_max_connections`) only when
 * the server really starts. So each bootstrap is validated and also started for a moment.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const envoy = findEnvoy().bin;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-deprecations-'));
beforeAll(() => generateDevCerts({ dir: path.join(dir, 'certs'), clients: ['spiffe://example.org/agent/a'] }));

/** Envoy's words for both kinds: "Using deprecated option ..." and "Usage of the deprecated runtime key ...". */
const DEPRECATION = /deprecated/i;

/** Listeners and admin on kernel-chosen ports, so a start never collides with anything. */
function anyPorts(bootstrap: any): any {
  bootstrap.admin.address.socket_address.port_value = 0;
  for (const l of bootstrap.static_resources.listeners) l.address.socket_address.port_value = 0;
  return bootstrap;
}

/** As bootstrap.test.ts: the clusters the processor serves over CDS placed among the static ones. */
function generate(raw: object): any {
  const env = { OPENAI_API_KEY: 'sk-x' };
  const config = parseConfig(structuredClone(raw), dir, env);
  const providers = config.providers.map((p) => toRuntime(p, env));
  const planner = new FallbackPlanner(config.fallbacks, new ProviderRegistry(providers, mappingsFrom(config.models)));
  const bootstrap: any = buildBootstrap(config, planner);
  bootstrap.static_resources.clusters.push(...providerClusters(config, providers, planner));
  delete bootstrap.dynamic_resources;
  return anyPorts(bootstrap);
}

const write = (bootstrap: Record<string, unknown>) => writeBootstrap(path.join(dir, `b-${Math.random().toString(36).slice(2)}.yaml`), bootstrap);

/** What `envoy --mode validate` logs at warning level (and whether the file is valid). */
function validateLog(file: string): { ok: boolean; log: string } {
  const r = spawnSync(envoy, ['--mode', 'validate', '-c', file, '--log-level', 'warning'], { encoding: 'utf8' });
  return { ok: r.status === 0, log: `${r.stdout}${r.stderr}` };
}

/** Starts Envoy on the file, stops it once its main loop runs, and returns what it logged. */
function startLog(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(envoy, ['-c', file, '--log-level', 'info', '--concurrency', '2', '--disable-hot-restart'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    const onData = (d: Buffer) => {
      out += d;
      if (!started && out.includes('starting main dispatch loop')) {
        started = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      if (!started) return reject(new Error(`envoy did not start:\n${out}`));
      resolve(out);
    });
  });
}

const deprecations = (log: string) => log.split('\n').filter((l) => DEPRECATION.test(l));

async function expectNoDeprecations(bootstrap: Record<string, unknown>): Promise<void> {
  const file = write(bootstrap);
  const validated = validateLog(file);
  expect(validated.ok).toBe(true);
  expect(deprecations(validated.log)).toEqual([]);
  expect(deprecations(await startLog(file))).toEqual([]);
}

const providers = [
  { name: 'tls', type: 'openai-compatible', base_url: 'https://llm.example.com/v1', api_key: 'k', models: ['gpt-*'] },
  { name: 'plain', type: 'anthropic', base_url: 'http://10.1.2.3:8000/v1' },
];
const fallbacks = [{ model: 'gpt-4o', fallback_models: ['claude-sonnet-4-5'] }];

describe('no deprecated Envoy option in any generated bootstrap', () => {
  test.each<[string, () => object]>([
    ['the embedded defaults', () => embeddedDefaults],
    ['the mTLS listener', () => ({ mtls: { enabled: true, server_cert: 'certs/server.crt', server_key: 'certs/server.key', client_ca: 'certs/ca.crt' } })],
    [
      'global and local rate limits with token charging, counters in Redis',
      () => ({
        providers,
        rate_limits: {
          redis_url: 'redis://127.0.0.1:6379',
          failure_mode: 'fail_closed',
          rules: [{ name: 'per-key', match: { key: '*' }, requests_per_minute: 10, tokens_per_minute: 1000 }],
          local: { requests_per_second: 50, burst: 100 },
        },
      }),
    ],
    ['fallback chains (aggregate clusters with the per-attempt ext_proc filter)', () => ({ providers, fallbacks })],
    ['processor workers (ext_proc on its own cluster)', () => ({ providers, fallbacks, processor: { workers: 3, ext_proc_port: 19044 } })],
    ['HTTP listener off, mTLS only', () => ({ server: { http_enabled: false }, mtls: { enabled: true, server_cert: 'certs/server.crt', server_key: 'certs/server.key', client_ca: 'certs/ca.crt' } })],
  ])('%s', async (_name, raw) => {
    await expectNoDeprecations(generate(raw()));
  });

  test.each(['envoy/envoy.example.yaml', 'envoy/envoy.compose.yaml'])('the committed %s (with its ADS source)', async (file) => {
    await expectNoDeprecations(anyPorts(YAML.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'))));
  });
});

describe('the check itself', () => {
  test('a deprecated field is reported by validation, a deprecated runtime key at start', async () => {
    const bootstrap = generate({});
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    hcm.local_reply_config.mappers[0].body_format_override = { text_format: '%LOCAL_REPLY_BODY%' };
    bootstrap.layered_runtime.layers[0].static_layer['overload.global_downstream_max_connections'] = 100;
    const file = write(bootstrap);
    const validated = validateLog(file);
    expect(validated.ok).toBe(true);
    expect(validated.log).toMatch(/Using deprecated option 'envoy\.config\.core\.v3\.SubstitutionFormatString\.text_format'/);
    expect(deprecations(await startLog(file))).toEqual(
      expect.arrayContaining([expect.stringMatching(/deprecated runtime key overload\.global_downstream_max_connections/)]),
    );
  });
});

describe('the connection limit', () => {
  test('set by the overload manager monitor, 50000 by default and from envoy.max_downstream_connections', () => {
    const monitor = (raw: object) => generate(raw).overload_manager.resource_monitors[0];
    expect(monitor({})).toEqual({
      name: 'envoy.resource_monitors.global_downstream_max_connections',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
        max_active_downstream_connections: 50000,
      },
    });
    expect(monitor({ envoy: { max_downstream_connections: 1000 } }).typed_config.max_active_downstream_connections).toBe(1000);
    expect(generate({}).layered_runtime.layers[0].static_layer).not.toHaveProperty(['overload.global_downstream_max_connections']);
  });
});
