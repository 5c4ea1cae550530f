import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { CLI, ROOT } from '../helpers/gateway';
import { generateDevCerts } from '../../src/identity/dev-certs';
import { findEnvoy } from '../../src/envoy/supervisor';
import { ADMIN_ROUTES, ROUTING_HEADER } from '../../src/envoy/config/bootstrap';
import { clusterNameFor } from '../../src/control/provider-registry';

/**
 * The Helm chart (deploy/helm/llm-gateway) and the Istio example (deploy/istio), offline:
 *
 * - `helm lint --strict` and `helm template` with the default values, values-production.yaml and
 *   a values file that takes the chart's other branches (secrets given as values);
 * - every rendered manifest against Kubernetes' own schemas (PyPI `kubernetes-validate`, strict:
 *   unknown fields fail, for the oldest and newest Kubernetes it knows); the CRD kinds
 *   (ServiceMonitor, Istio's) against their CRDs' openAPIV3Schema, from the Go modules that
 *   publish them (scripts/setup-helm.sh), unknown fields failing there too; a kind with neither
 *   fails;
 * - the gateway.yaml the chart renders passes `llm-gateway check-config` (schema, plugins, and
 *   `envoy --mode validate` on the generated bootstrap), and Envoy accepts that bootstrap with the
 *   arguments the chart's envoy container adds (its ops listener);
 * - the pod's layout and hardening: init container → bootstrap → Envoy, non-root, read-only
 *   root filesystems, probes, drain, ServiceMonitor endpoints, HPA, PDB;
 * - the Istio EnvoyFilter carries the ext_proc and rate limit filters exactly as the gateway's
 *   own bootstrap generates them from the processor's gateway.yaml, its routes and providers
 *   agree with that configuration, and Envoy accepts the patches on a listener shaped like
 *   Istio's.
 *
 * Needs Go (Helm is built from the Go module proxy once, then cached) and the repo's .venv with
 * test/python/requirements.txt; without them the suite is skipped, and fails under CI=true.
 */

const run = promisify(execFile);
const CHART = path.join(ROOT, 'deploy', 'helm', 'llm-gateway');
const ISTIO = path.join(ROOT, 'deploy', 'istio');
const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const NAMESPACE = 'llm-gateway';
const RELEASE = 'llm-gateway';
/** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas. */
const KUBERNETES_VERSIONS = ['1.25', 'latest'];
/** Kinds that are not Kubernetes' own: checked against their CRDs, never skipped. */
const CRD_KINDS = ['ServiceMonitor', 'EnvoyFilter', 'Gateway', 'VirtualService', 'ServiceEntry', 'DestinationRule', 'PeerAuthentication', 'AuthorizationPolicy'];

const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 || fs.existsSync('/usr/local/go/bin/go');
const hasValidator = spawnSync(PYTHON, ['-c', 'import kubernetes_validate, jsonschema, yaml'], { stdio: 'ignore' }).status === 0;
const missing = [...(hasGo ? [] : ['Go (to build Helm)']), ...(hasValidator ? [] : ['kubernetes-validate in .venv (pip install -r test/python/requirements.txt)'])];

type Manifest = Record<string, any>;

interface Tools {
  HELM: string;
  SERVICEMONITOR_CRD: string;
  ISTIO_CRDS: string;
}

/** Validates manifests (stdin, JSON) against Kubernetes' schemas or their CRD; one result each. */
const VALIDATOR = String.raw`
import functools, json, sys
import jsonschema, yaml
from kubernetes_validate import utils

# Every validate() call reads its schema files again: once is enough.
utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)
req = json.load(sys.stdin)
versions = [utils.latest_version() if v == 'latest' else v for v in req['versions']]

def strict(s):
    # As the API server with field validation Strict (kubectl's default): unknown fields fail,
    # except where the schema keeps them (x-kubernetes-preserve-unknown-fields).
    if isinstance(s, list):
        return [strict(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: (({p: strict(v) for p, v in s[k].items()}) if k == 'properties' else strict(v)) for k, v in s.items()}
    if 'properties' in out and 'additionalProperties' not in out and not out.get('x-kubernetes-preserve-unknown-fields'):
        out['additionalProperties'] = False
    return out

crds = {}
for f in req['crds']:
    for d in yaml.safe_load_all(open(f)):
        if not d or d.get('kind') != 'CustomResourceDefinition':
            continue
        for v in d['spec']['versions']:
            schema = (v.get('schema') or {}).get('openAPIV3Schema')
            if schema:
                schema = strict(schema)
                # Every object has these, whether its CRD lists them or not.
                for k in ('apiVersion', 'kind', 'metadata'):
                    schema.setdefault('properties', {}).setdefault(k, {'type': 'string'} if k != 'metadata' else {'type': 'object'})
                crds[(d['spec']['group'] + '/' + v['name'], d['spec']['names']['kind'])] = schema

out = []
for m in req['manifests']:
    key = (m.get('apiVersion'), m.get('kind'))
    res = {'kind': m.get('kind'), 'name': (m.get('metadata') or {}).get('name'), 'checked': [], 'errors': []}
    if key in crds:
        errors = sorted(jsonschema.Draft7Validator(crds[key]).iter_errors(m), key=lambda e: list(e.absolute_path))
        res['checked'].append('crd ' + key[0])
        res['errors'] += ['/'.join(map(str, e.absolute_path)) + ': ' + e.message for e in errors]
    else:
        for v in versions:
            try:
                utils.validate(m, v, strict=True)
                res['checked'].append('kubernetes ' + v)
            except utils.SchemaNotFoundError as e:
                res['errors'].append('no schema: ' + e.message)
            except utils.ValidationError as e:
                res['errors'].append('kubernetes %s: %s: %s' % (v, '/'.join(map(str, e.absolute_path)), e.message))
    out.append(res)
json.dump(out, sys.stdout)
`;

let tools: Tools;
let tmp: string;

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(tools.HELM, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: path.join(tmp, 'helm-cache'), HELM_CONFIG_HOME: path.join(tmp, 'helm-config'), HELM_DATA_HOME: path.join(tmp, 'helm-data') } });
  return stdout;
}

/** `helm template` of the chart with these values files; the manifests, in order. */
async function render(values: string[]): Promise<Manifest[]> {
  const out = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...values.flatMap((v) => ['-f', v])]);
  return parseAll(out);
}

function parseAll(text: string): Manifest[] {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`invalid YAML: ${d.errors[0].message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null && typeof d === 'object');
}

async function validate(manifests: Manifest[]): Promise<{ kind: string; name: string; checked: string[]; errors: string[] }[]> {
  const child = execFile(PYTHON, ['-c', VALIDATOR], { maxBuffer: 64 * 1024 * 1024 });
  const done = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`validator exited ${code}: ${stderr}`))));
  });
  child.stdin!.end(JSON.stringify({ manifests, versions: KUBERNETES_VERSIONS, crds: [tools.SERVICEMONITOR_CRD, tools.ISTIO_CRDS] }));
  return JSON.parse(await done);
}

/** Every manifest checked against a schema (its CRD's for CRD_KINDS), none with an error. */
async function expectValid(manifests: Manifest[]): Promise<void> {
  const results = await validate(manifests);
  expect(results).toHaveLength(manifests.length);
  for (const r of results) {
    const via = CRD_KINDS.includes(r.kind) ? /^crd / : /^kubernetes /;
    expect({ manifest: `${r.kind}/${r.name}`, errors: r.errors }).toEqual({ manifest: `${r.kind}/${r.name}`, errors: [] });
    expect(r.checked.length).toBeGreaterThan(0);
    for (const c of r.checked) expect(c).toMatch(via);
  }
  // Kubernetes' own kinds against both versions.
  for (const r of results.filter((x) => !CRD_KINDS.includes(x.kind))) expect(r.checked).toHaveLength(KUBERNETES_VERSIONS.length);
}

const byKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
const one = (ms: Manifest[], kind: string) => {
  const found = byKind(ms, kind);
  expect(found.map((m) => `${m.kind}/${m.metadata.name}`)).toHaveLength(1);
  return found[0];
};
const container = (pod: Manifest, name: string) => [...(pod.initContainers ?? []), ...pod.containers].find((c: Manifest) => c.name === name);
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

/**
 * Runs `check-config` on the gateway.yaml of the chart's ConfigMap, in a folder standing in for
 * /etc/llm-gateway (with development certificates under tls/ when mTLS is on), then Envoy on the
 * generated bootstrap with the envoy container's own arguments.
 */
async function checkRenderedConfig(manifests: Manifest[], name: string): Promise<{ gateway: Manifest; bootstrap: Manifest }> {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const cm = one(manifests, 'ConfigMap');
  fs.writeFileSync(path.join(dir, 'gateway.yaml'), cm.data['gateway.yaml']);
  const gateway = YAML.parse(cm.data['gateway.yaml']);
  if (gateway.mtls?.enabled) {
    const certs = generateDevCerts({ dir: path.join(tmp, `${name}-certs`), clients: ['spiffe://example.org/agent/a'] });
    fs.mkdirSync(path.join(dir, 'tls'));
    fs.copyFileSync(certs.server.cert, path.join(dir, 'tls', 'tls.crt'));
    fs.copyFileSync(certs.server.key, path.join(dir, 'tls', 'tls.key'));
    fs.copyFileSync(certs.ca.cert, path.join(dir, 'tls', 'ca.crt'));
  }
  const bootstrapFile = path.join(dir, 'envoy.yaml');
  // Variables the pod gets from its Secrets; the configuration may reference them.
  const env = { ...process.env, OPENAI_API_KEY: 'sk-test', ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_ENCRYPTION_KEY: 'k'.repeat(64) };
  const check = await run(process.execPath, [CLI, 'check-config', '-c', path.join(dir, 'gateway.yaml'), '-o', bootstrapFile], { cwd: dir, env, timeout: 60000 }).catch((e) => e);
  expect({ code: check.code ?? 0, stderr: String(check.stderr ?? '').slice(-2000) }).toEqual({ code: 0, stderr: expect.anything() });

  // The envoy container's arguments, its bootstrap path pointing at the one just generated.
  const pod = one(manifests, 'Deployment').spec.template.spec;
  const envoy = container(pod, 'envoy');
  const args = [...envoy.args];
  expect(argAfter(args, '-c')).toBe('/etc/envoy/envoy.yaml');
  args[args.indexOf('-c') + 1] = bootstrapFile;
  const validated = spawnSync(findEnvoy().bin, ['--mode', 'validate', ...args], { encoding: 'utf8', timeout: 60000 });
  expect({ status: validated.status, out: validated.status === 0 ? '' : `${validated.stdout}${validated.stderr}`.slice(-3000) }).toEqual({ status: 0, out: '' });
  return { gateway, bootstrap: YAML.parse(fs.readFileSync(bootstrapFile, 'utf8')) };
}

/** The hardening and layout every rendering must have. */
function expectPodLayout(manifests: Manifest[]): void {
  const deployment = one(manifests, 'Deployment');
  const pod = deployment.spec.template.spec;
  const values = { grace: 30 };

  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.automountServiceAccountToken).toBe(false);
  const all = [...pod.initContainers, ...pod.containers];
  expect(all.map((c: Manifest) => c.name).sort()).toEqual(['envoy', 'envoy-config', 'processor']);
  const volumes = new Map<string, Manifest>(pod.volumes.map((v: Manifest) => [v.name, v]));
  for (const c of all) {
    expect({ name: c.name, ...c.securityContext }).toMatchObject({ name: c.name, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.securityContext.runAsUser).toBeGreaterThan(0);
    // Only emptyDirs are writable.
    for (const m of c.volumeMounts) if (!m.readOnly) expect({ container: c.name, mount: m.mountPath, emptyDir: !!volumes.get(m.name)?.emptyDir }).toEqual({ container: c.name, mount: m.mountPath, emptyDir: true });
  }

  // The init container writes the bootstrap Envoy reads, from the gateway.yaml the processor runs.
  const init = container(pod, 'envoy-config');
  const envoy = container(pod, 'envoy');
  const processor = container(pod, 'processor');
  expect(init.image).toBe(processor.image);
  expect(init.args.slice(0, 1)).toEqual(['envoy-config']);
  expect(argAfter(init.args, '-c')).toBe('/etc/llm-gateway/gateway.yaml');
  const bootstrap = argAfter(init.args, '-o');
  expect(argAfter(envoy.args, '-c')).toBe(bootstrap);
  const mountOf = (c: Manifest, file: string) => c.volumeMounts.find((m: Manifest) => file.startsWith(`${m.mountPath}/`))?.name;
  expect(mountOf(init, bootstrap)).toBeDefined();
  expect(mountOf(envoy, bootstrap)).toBe(mountOf(init, bootstrap));
  expect(volumes.get(mountOf(init, bootstrap)!)?.emptyDir).toBeDefined();
  expect(processor.args.slice(0, 4)).toEqual(['start', '--no-envoy', '-c', '/etc/llm-gateway/gateway.yaml']);

  // Envoy: the official image of the version the repository runs (scripts/install-envoy.js).
  const { WANT_MINOR } = require(path.join(ROOT, 'scripts', 'install-envoy.js')) as { WANT_MINOR: string };
  expect(envoy.image).toMatch(new RegExp(`^envoyproxy/envoy:v${WANT_MINOR.replace('.', '\\.')}\\.\\d+$`));
  expect(envoy.command).toEqual(['bash', '/etc/llm-gateway/envoy-drain.sh']);
  expect(envoy.args).toContain('--disable-hot-restart');
  expect(envoy.args).toContain('--concurrency');
  expect(envoy.env).toEqual(expect.arrayContaining([{ name: 'SHUTDOWN_GRACE_SECONDS', value: String(values.grace) }]));
  // Probes: Envoy's /ready through the ops listener, the processor's /health on its loopback.
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    expect(envoy[probe].httpGet).toEqual({ path: '/ready', port: 'ops' });
    expect(processor[probe].exec.command.join(' ')).toMatch(/\/dev\/tcp\/127\.0\.0\.1\/9003 .*GET \/health HTTP\/1\.1/s);
  }
  expect(envoy.ports.map((p: Manifest) => p.name)).toContain('ops');
  for (const c of [envoy, processor]) expect(c.lifecycle.preStop.exec.command[0]).toBe('sleep');
  const preStop = Number(envoy.lifecycle.preStop.exec.command[1]);
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + values.grace);

  // The processor (ext_proc replies carry provider keys) and Envoy's admin stay on loopback.
  const gateway = YAML.parse(one(manifests, 'ConfigMap').data['gateway.yaml']);
  expect(gateway.processor).toMatchObject({ listen_address: '127.0.0.1', advertise_address: '127.0.0.1' });
  expect(gateway.envoy).toMatchObject({ manage: false, admin_address: '127.0.0.1' });
  const exposed = byKind(manifests, 'Service').flatMap((s) => s.spec.ports.map((p: Manifest) => p.targetPort));
  const containerPorts = new Map<string, number>(envoy.ports.map((p: Manifest) => [p.name, p.containerPort]));
  for (const port of exposed) expect(containerPorts.has(port)).toBe(true);
  expect([...containerPorts.values()]).not.toContain(gateway.processor.grpc_port);
  expect([...containerPorts.values()]).not.toContain(gateway.envoy.admin_port);

  // The drain script is deploy/envoy-drain.sh, the one compose runs.
  expect(one(manifests, 'ConfigMap').data['envoy-drain.sh']).toBe(fs.readFileSync(path.join(ROOT, 'deploy', 'envoy-drain.sh'), 'utf8'));

  const pdb = one(manifests, 'PodDisruptionBudget');
  expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
}

if (missing.length && process.env.CI === 'true') {
  test('the chart tests have their tools (required in CI)', () => {
    throw new Error(`missing: ${missing.join(', ')}`);
  });
} else if (missing.length) {
  console.warn(`test/e2e/helm.test.ts: skipped, missing ${missing.join(', ')}`);
  test.skip('needs Go and kubernetes-validate', () => undefined);
} else {
  const production = path.join(CHART, 'values-production.yaml');
  let inline: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-test-'));
    // Builds Helm on the first run (minutes), then only prints the cached paths.
    const { stdout } = await run('bash', [path.join(ROOT, 'scripts', 'setup-helm.sh')], { cwd: ROOT, timeout: 20 * 60_000, maxBuffer: 16 * 1024 * 1024 });
    tools = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2))) as unknown as Tools;
    for (const f of Object.values(tools)) expect(fs.existsSync(f)).toBe(true);
    // The branches the other two files leave out: secrets as values, a ServiceMonitor in the
    // monitoring namespace (which brings the metrics Service back), workers, mTLS only.
    inline = path.join(tmp, 'values-inline.yaml');
    fs.writeFileSync(
      inline,
      YAML.stringify({
        replicaCount: 2,
        image: { repository: 'registry.example.com/llm-gateway', digest: `sha256:${'a'.repeat(64)}` },
        envoy: { concurrency: 4 },
        processor: { workers: 4 },
        server: { httpEnabled: false },
        mtls: { enabled: true, secretName: 'gw-tls', identities: [{ match: 'spiffe://example.org/agent/a', user: 'agent-a' }] },
        secrets: { providerKeys: { OPENAI_API_KEY: 'sk-inline', UNUSED: '' }, adminKey: 'admin-key-inline-1234' },
        encryptionKey: { value: 'a'.repeat(64) },
        externalDatabase: { url: 'postgres://gw:pw@postgres:5432/gw' },
        externalRedis: { url: 'redis://redis:6379/0' },
        metrics: { service: { enabled: false }, serviceMonitor: { enabled: true, namespace: 'monitoring', labels: { release: 'prom' } } },
        podDisruptionBudget: { minAvailable: 1 },
        config: {
          rate_limits: { rules: [{ name: 'per-user', match: { user: '*' }, requests_per_minute: 60 }] },
          mcp: { servers: [{ name: 'files', url: 'http://files-mcp:8000/mcp' }], access: [{ teams: ['agents'] }] },
        },
        // The MCP gateway, each client kept on one of the two pods (its sessions live there).
        mcp: { enabled: true },
        service: { sessionAffinity: 'ClientIP' },
      }),
    );
  }, 25 * 60_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('helm lint --strict passes with the default and the production values', async () => {
    await helm(['lint', '--strict', CHART]);
    await helm(['lint', '--strict', CHART, '-f', production]);
  });

  test('default values: valid manifests, a hardened pod, a configuration the gateway accepts', async () => {
    const ms = await render([]);
    expect(ms.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'ServiceAccount']);
    await expectValid(ms);
    expectPodLayout(ms);
    // Without secrets only the encryption key's Secret, generated and kept across uninstalls.
    const secret = one(ms, 'Secret');
    expect(secret.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
    expect(Buffer.from(Buffer.from(secret.data.GATEWAY_ENCRYPTION_KEY, 'base64').toString(), 'base64')).toHaveLength(32);
    const { bootstrap } = await checkRenderedConfig(ms, 'default');
    expect(bootstrap.admin.address.socket_address.address).toBe('127.0.0.1');
  }, 120_000);

  test('values-production.yaml: external PostgreSQL and Redis, mTLS, HPA, ServiceMonitor', async () => {
    const ms = await render([production]);
    expect(ms.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    await expectValid(ms);
    expectPodLayout(ms);
    const deployment = one(ms, 'Deployment');
    const pod = deployment.spec.template.spec;
    const processor = container(pod, 'processor');
    expect(deployment.spec.replicas).toBeUndefined();
    expect(one(ms, 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 3, maxReplicas: 20, scaleTargetRef: { kind: 'Deployment', name: deployment.metadata.name } });
    // Secrets from the cluster, by reference.
    const envRef = (name: string) => processor.env.find((e: Manifest) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(envRef('DATABASE_URL')).toEqual({ name: 'llm-gateway-postgres', key: 'DATABASE_URL' });
    expect(envRef('REDIS_URL')).toEqual({ name: 'llm-gateway-redis', key: 'REDIS_URL' });
    expect(envRef('GATEWAY_ENCRYPTION_KEY')).toEqual({ name: 'llm-gateway-env', key: 'GATEWAY_ENCRYPTION_KEY' });
    expect(processor.envFrom).toEqual([{ secretRef: { name: 'llm-gateway-env' } }]);
    expect(container(pod, 'envoy-config').env).toEqual(processor.env);
    // mTLS: the Secret's files where gateway.yaml names them, for both containers that read them.
    const config = pod.volumes.find((v: Manifest) => v.name === 'config').projected.sources;
    expect(config.find((s: Manifest) => s.secret)?.secret).toMatchObject({ name: 'llm-gateway-mtls', items: expect.arrayContaining([{ key: 'tls.key', path: 'tls/tls.key', mode: 0o440 }]) });
    expect(one(byKind(ms, 'Service').filter((s) => !s.metadata.name.endsWith('-metrics')), 'Service').spec.ports.map((p: Manifest) => [p.name, p.port])).toEqual([
      ['http', 80],
      ['mtls', 443],
    ]);
    // Both metric endpoints, on the metrics Service's ops port.
    const sm = one(ms, 'ServiceMonitor');
    const metricsService = byKind(ms, 'Service').find((s) => s.metadata.name.endsWith('-metrics'))!;
    expect(sm.spec.endpoints.map((e: Manifest) => [e.port, e.path])).toEqual([
      ['ops', '/metrics'],
      ['ops', '/stats/prometheus'],
    ]);
    expect(metricsService.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(metricsService.spec.ports.map((p: Manifest) => p.name)).toEqual(['ops']);
    expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');

    const { gateway, bootstrap } = await checkRenderedConfig(ms, 'production');
    expect(gateway.mtls).toMatchObject({ enabled: true, server_cert: 'tls/tls.crt', server_key: 'tls/tls.key', client_ca: 'tls/ca.crt' });
    expect(bootstrap.static_resources.listeners.map((l: Manifest) => l.name)).toEqual(['http', 'mtls']);
  }, 180_000);

  test('secrets given as values, mTLS only, workers: valid, and the gateway accepts it', async () => {
    const ms = await render([inline]);
    await expectValid(ms);
    expectPodLayout(ms);
    const pod = one(ms, 'Deployment').spec.template.spec;
    expect(container(pod, 'processor').image).toBe(`registry.example.com/llm-gateway@sha256:${'a'.repeat(64)}`);
    const secrets = byKind(ms, 'Secret');
    const env = secrets.find((s) => s.metadata.name.endsWith('-env'))!;
    const decoded = Object.fromEntries(Object.entries(env.data).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()]));
    expect(decoded).toEqual({ OPENAI_API_KEY: 'sk-inline', GATEWAY_ADMIN_KEY: 'admin-key-inline-1234', DATABASE_URL: 'postgres://gw:pw@postgres:5432/gw', REDIS_URL: 'redis://redis:6379/0' });
    expect(container(pod, 'processor').envFrom).toEqual([{ secretRef: { name: env.metadata.name } }]);
    expect(one(ms, 'ServiceMonitor').metadata.namespace).toBe('monitoring');
    expect(one(ms, 'ServiceMonitor').spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    const services = byKind(ms, 'Service');
    expect(services.map((x) => [x.metadata.name, x.spec.ports.map((p: Manifest) => p.name)])).toEqual([
      [`${RELEASE}-metrics`, ['ops']],
      [RELEASE, ['mtls']],
    ]);
    const { gateway, bootstrap } = await checkRenderedConfig(ms, 'inline');
    expect(bootstrap.static_resources.listeners.map((l: Manifest) => l.name)).toEqual(['mtls']);
    // /mcp: the chart's port and the configuration's servers; Envoy routes it to the processor's loopback.
    expect(gateway.mcp).toMatchObject({ enabled: true, port: 9006, servers: [{ name: 'files' }], access: [{ teams: ['agents'] }] });
    const mcpRoute = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes.find((r: Manifest) => r.match.path === '/mcp');
    expect(mcpRoute.route).toMatchObject({ cluster: 'gateway_mcp', timeout: '0s' });
    const mcpCluster = bootstrap.static_resources.clusters.find((c: Manifest) => c.name === 'gateway_mcp');
    expect(mcpCluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9006 });
    expect(services.find((x) => x.metadata.name === RELEASE)!.spec).toMatchObject({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } });
    // Four workers: ext_proc on their shared port.
    expect(bootstrap.static_resources.clusters.map((c: Manifest) => c.name)).toContain('gateway_ext_proc');
  }, 180_000);

  test('values that cannot work are refused at render time, naming the value', async () => {
    const refused = async (set: string[]) => {
      const err = await helm(['template', RELEASE, CHART, ...set.flatMap((s) => ['--set', s])]).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toBeDefined();
      return String(err.stderr);
    };
    expect(await refused(['replicaCount=3'])).toMatch(/needs externalDatabase/);
    expect(await refused(['autoscaling.enabled=true'])).toMatch(/needs externalDatabase/);
    expect(await refused(['mtls.enabled=true'])).toMatch(/mtls.secretName/);
    expect(await refused(['config.envoy.manage=true'])).toMatch(/config.envoy is set by the chart/);
    expect(await refused(['config.processor.listen_address=0.0.0.0'])).toMatch(/config.processor.listen_address is set by the chart/);
    expect(await refused(['server.httpEnabled=false'])).toMatch(/no listener/);
    expect(await refused(['config.mcp.port=9100'])).toMatch(/config.mcp.port is set by the chart/);
    expect(await refused(['mcp.enabled=true', 'processor.mcpPort=9003'])).toMatch(/share a port/);
    expect(await refused(['service.sessionAffinity=Cookie'])).toMatch(/service.sessionAffinity/);
    expect(await refused(['processor.workers=4'])).toMatch(/processor.workers is larger than envoy.concurrency/);
    expect(await refused(['envoy.opsPort=8080'])).toMatch(/share a port/);
    // The gateway checks its own ports at start; the ops listener is the chart's.
    expect(await refused(['envoy.opsPort=9004'])).toMatch(/share a port/);
  }, 60_000);

  describe('Istio example (deploy/istio)', () => {
    let manifests: Manifest[];
    let gateway: Manifest;
    let generated: Manifest;

    beforeAll(async () => {
      manifests = fs
        .readdirSync(ISTIO)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .flatMap((f) => parseAll(fs.readFileSync(path.join(ISTIO, f), 'utf8')));
      // The processor's gateway.yaml, and the bootstrap the gateway's own Envoy would get from it.
      const dir = path.join(tmp, 'istio');
      fs.mkdirSync(dir, { recursive: true });
      const text = one(manifests, 'ConfigMap').data['gateway.yaml'];
      gateway = YAML.parse(text);
      fs.writeFileSync(path.join(dir, 'gateway.yaml'), text);
      const env = { ...process.env, OPENAI_API_KEY: 'sk-test', ANTHROPIC_API_KEY: 'sk-ant-test' };
      await run(process.execPath, [CLI, 'check-config', '-c', path.join(dir, 'gateway.yaml'), '-o', path.join(dir, 'envoy.yaml')], { cwd: dir, env, timeout: 60000 });
      generated = YAML.parse(fs.readFileSync(path.join(dir, 'envoy.yaml'), 'utf8'));
    }, 120_000);

    const patches = (applyTo: string) => one(manifests, 'EnvoyFilter').spec.configPatches.filter((p: Manifest) => p.applyTo === applyTo);
    const generatedHcm = () => generated.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const generatedFilter = (name: string) => generatedHcm().http_filters.find((f: Manifest) => f.name === name);
    const processorCluster = () => {
      const svc = one(manifests, 'Service');
      const grpc = svc.spec.ports.find((p: Manifest) => p.appProtocol === 'grpc');
      return `outbound|${grpc.port}||${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
    };
    const withoutCluster = (f: Manifest) => {
      const copy = structuredClone(f);
      if (copy.typed_config.grpc_service) delete copy.typed_config.grpc_service.envoy_grpc.cluster_name;
      if (copy.typed_config.rate_limit_service) delete copy.typed_config.rate_limit_service.grpc_service.envoy_grpc.cluster_name;
      return copy;
    };

    test('every manifest is valid: core kinds against Kubernetes, Istio kinds against their CRDs', async () => {
      expect([...new Set(manifests.map((m) => m.kind))].sort()).toEqual(
        ['AuthorizationPolicy', 'ConfigMap', 'Deployment', 'DestinationRule', 'EnvoyFilter', 'Gateway', 'Namespace', 'PeerAuthentication', 'Service', 'ServiceAccount', 'ServiceEntry', 'VirtualService'].sort(),
      );
      await expectValid(manifests);
    }, 120_000);

    test('the EnvoyFilter inserts ext_proc and the rate limit filter as the gateway bootstrap does', () => {
      const filters = patches('HTTP_FILTER');
      expect(filters.map((p: Manifest) => [p.match.context, p.match.listener.filterChain.filter.subFilter.name, p.patch.operation, p.patch.value.name])).toEqual([
        ['GATEWAY', 'envoy.filters.http.router', 'INSERT_BEFORE', 'envoy.filters.http.ext_proc'],
        ['GATEWAY', 'envoy.filters.http.router', 'INSERT_BEFORE', 'envoy.filters.http.ratelimit'],
        ['GATEWAY', 'envoy.filters.http.router', 'INSERT_BEFORE', 'envoy.filters.http.stateful_session'],
      ]);
      const [extProc, rateLimit] = filters.map((p: Manifest) => p.patch.value);
      // Same processing mode, timeouts, metadata namespaces, mutation rules, failure handling.
      expect(withoutCluster(extProc)).toEqual(withoutCluster(generatedFilter('envoy.filters.http.ext_proc')));
      expect(withoutCluster(rateLimit)).toEqual(withoutCluster(generatedFilter('envoy.filters.http.ratelimit')));
      // Both reach the processor's gRPC port through the mesh.
      expect(extProc.typed_config.grpc_service.envoy_grpc.cluster_name).toBe(processorCluster());
      expect(rateLimit.typed_config.rate_limit_service.grpc_service.envoy_grpc.cluster_name).toBe(processorCluster());
      expect(one(manifests, 'Service').spec.ports.find((p: Manifest) => p.appProtocol === 'grpc').port).toBe(gateway.processor.grpc_port);

      // The LLM route's rate limit descriptors; ext_proc off on the admin route.
      const llmRoute = generatedHcm().route_config.virtual_hosts[0].routes.at(-1);
      expect(patches('VIRTUAL_HOST')[0].patch.value.typed_per_filter_config).toEqual(llmRoute.typed_per_filter_config);
      const adminRoute = generatedHcm().route_config.virtual_hosts[0].routes[0];
      const adminPatch = patches('HTTP_ROUTE').find((p: Manifest) => p.match.routeConfiguration.vhost.route.name === 'llm-gateway-admin');
      expect(adminPatch.patch.value.typed_per_filter_config['envoy.filters.http.ext_proc']).toEqual(adminRoute.typed_per_filter_config['envoy.filters.http.ext_proc']);
      expect(patches('LISTENER')[0].patch.value.per_connection_buffer_limit_bytes).toBe(generated.static_resources.listeners[0].per_connection_buffer_limit_bytes);

      // The client certificate identity: set by the mesh's Envoy from the verified certificate.
      const hcm = patches('NETWORK_FILTER')[0].patch.value.typed_config;
      expect(hcm).toMatchObject({ forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { uri: true, dns: true, subject: true } });
      expect(gateway.mtls.enabled).toBe(false);
      expect(gateway.mtls.identities.length).toBeGreaterThan(0);
    });

    test('routes: the admin paths, one route per provider by the routing header, providers as ServiceEntries', () => {
      const vs = one(manifests, 'VirtualService');
      const routes = new Map<string, Manifest>(vs.spec.http.map((r: Manifest) => [r.name, r]));
      const admin = routes.get('llm-gateway-admin')!;
      expect(admin.match.map((m: Manifest) => (m.uri.exact ? { path: m.uri.exact } : { prefix: m.uri.prefix }))).toEqual(ADMIN_ROUTES);
      expect(admin.route[0].destination.port.number).toBe(gateway.processor.admin_port);
      // Provider routes come first: a routed request never matches an admin path.
      const order = vs.spec.http.map((r: Manifest) => r.name);
      for (const p of gateway.providers as Manifest[]) {
        const route = routes.get(`llm-gateway-provider-${p.name}`)!;
        expect(order.indexOf(route.name)).toBeLessThan(order.indexOf('llm-gateway-admin'));
        const url = new URL(p.base_url);
        expect(route.match).toEqual([{ headers: { [ROUTING_HEADER]: { exact: clusterNameFor(p.name) } } }]);
        expect(route.headers.request.remove).toEqual([ROUTING_HEADER]);
        expect(route.route[0].destination).toEqual({ host: url.hostname, port: { number: Number(url.port || 443) } });
        expect(byKind(manifests, 'ServiceEntry').some((se) => se.spec.hosts.includes(url.hostname) && se.spec.location === 'MESH_EXTERNAL')).toBe(true);
        const dr = byKind(manifests, 'DestinationRule').find((d) => d.spec.host === url.hostname)!;
        expect(dr.spec.trafficPolicy.tls).toEqual({ mode: 'SIMPLE', sni: url.hostname });
      }
      expect(order.at(-1)).toBe('llm-gateway-llm');
      // The processor rewrites :authority to the provider's host: the virtual host must take any.
      expect(vs.spec.hosts).toEqual(['*']);
    });

    test('/mcp: routed to the MCP front as the gateway routes it, without ext_proc, sticky per session', () => {
      const vs = one(manifests, 'VirtualService');
      const mcp = vs.spec.http.find((r: Manifest) => r.name === 'llm-gateway-mcp');
      expect(mcp.match).toEqual([{ uri: { exact: '/mcp' } }]);
      expect(gateway.mcp).toMatchObject({ enabled: true });
      expect(mcp.route[0].destination.port.number).toBe(gateway.mcp.port);
      const svc = one(manifests, 'Service').spec.ports.find((p: Manifest) => p.port === gateway.mcp.port);
      expect(svc).toMatchObject({ name: 'http-mcp', appProtocol: 'http' });
      // As the gateway's own bootstrap generates the route: no timeout, its idle timeout, no ext_proc.
      const generatedRoute = generatedHcm().route_config.virtual_hosts[0].routes.find((r: Manifest) => r.match.path === '/mcp');
      const patch = patches('HTTP_ROUTE').find((p: Manifest) => p.match.routeConfiguration.vhost.route.name === 'llm-gateway-mcp').patch.value;
      expect(mcp.timeout).toBe(generatedRoute.route.timeout);
      expect(patch.route.idle_timeout).toBe(generatedRoute.route.idle_timeout);
      expect(patch.typed_per_filter_config['envoy.filters.http.ext_proc']).toEqual(generatedRoute.typed_per_filter_config['envoy.filters.http.ext_proc']);
      const sticky = patch.typed_per_filter_config['envoy.filters.http.stateful_session'].stateful_session.session_state;
      expect(sticky).toMatchObject({ name: 'envoy.http.stateful_session.envelope', typed_config: { header: { name: 'mcp-session-id' } } });
      // Provider routes come first; the mesh's gateway may reach the MCP port.
      const order = vs.spec.http.map((r: Manifest) => r.name);
      expect(order.indexOf('llm-gateway-mcp')).toBeGreaterThan(order.indexOf('llm-gateway-provider-openai'));
      const allowed = byKind(manifests, 'AuthorizationPolicy')[0].spec.rules[0].to[0].operation.ports;
      expect(allowed).toContain(String(gateway.mcp.port));
    });

    test("Envoy accepts the EnvoyFilter's patches on a gateway listener shaped like Istio's", () => {
      const ef = one(manifests, 'EnvoyFilter').spec.configPatches as Manifest[];
      const value = (applyTo: string) => ef.filter((p) => p.applyTo === applyTo).map((p) => p.patch.value);
      const vs = one(manifests, 'VirtualService');
      const cluster = (name: string, address: string, port: number, http2 = false) => ({
        name,
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address, port_value: port } } } }] }] },
        ...(http2 ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } } : {}),
      });
      const clusters = [cluster(processorCluster(), '127.0.0.1', 9002, true), cluster(`outbound|${gateway.processor.admin_port}||llm-gateway-processor.llm-gateway.svc.cluster.local`, '127.0.0.1', 9003)];
      const routes = vs.spec.http.flatMap((r: Manifest) =>
        r.match.map((m: Manifest) => {
          const match = m.uri ? (m.uri.exact ? { path: m.uri.exact } : { prefix: m.uri.prefix }) : { prefix: '/', headers: Object.entries(m.headers).map(([name, v]: [string, any]) => ({ name, string_match: { exact: v.exact } })) };
          const routePatch = ef.find((p) => p.applyTo === 'HTTP_ROUTE' && p.match.routeConfiguration.vhost.route.name === r.name)?.patch.value ?? {};
          if (r.directResponse) return { name: r.name, match, direct_response: { status: r.directResponse.status, body: { inline_string: r.directResponse.body.string } }, ...routePatch };
          const d = r.route[0].destination;
          const name = `outbound|${d.port.number}||${d.host}`;
          if (!clusters.some((c) => c.name === name)) clusters.push(cluster(name, '127.0.0.2', d.port.number));
          return { name: r.name, match, ...routePatch, route: { cluster: name, timeout: r.timeout, ...routePatch.route } };
        }),
      );
      const hcm = {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'outbound_0.0.0.0_443',
          route_config: { name: 'https.443.https-mtls.llm-gateway.llm-gateway', virtual_hosts: [{ name: '*:443', domains: ['*'], routes, ...value('VIRTUAL_HOST')[0] }] },
          http_filters: [...value('HTTP_FILTER'), { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          ...value('NETWORK_FILTER')[0].typed_config,
        },
      };
      const bootstrap = {
        static_resources: {
          listeners: [{ name: '0.0.0.0_443', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: [{ filters: [hcm] }], ...value('LISTENER')[0] }],
          clusters,
        },
      };
      const file = path.join(tmp, 'istio', 'envoyfilter-bootstrap.yaml');
      fs.writeFileSync(file, YAML.stringify(bootstrap));
      const validated = spawnSync(findEnvoy().bin, ['--mode', 'validate', '-c', file], { encoding: 'utf8', timeout: 60000 });
      expect({ status: validated.status, out: validated.status === 0 ? '' : `${validated.stdout}${validated.stderr}`.slice(-3000) }).toEqual({ status: 0, out: '' });
    });
  });
}
