import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load';
import { gatewayBootstrap, renderBootstrap } from '../../src/envoy/config/bootstrap';
import { providerRuntimes } from '../../src/processor';
import { isPostgresUrl } from '../../src/store';

/** The checked-in deployment files must match what the code generates and must validate. */

const ROOT = path.resolve(__dirname, '..', '..');
const log = pino({ level: 'silent' });

function generated(configPath: string | undefined, cwd: string): string {
  const config = loadConfig({ path: configPath, cwd, env: {} });
  return renderBootstrap(gatewayBootstrap(config, providerRuntimes(config, log)));
}

test.each([
  ['envoy/envoy.example.yaml', undefined, path.join(ROOT, 'envoy')],
  ['envoy/envoy.compose.yaml', 'deploy/gateway.compose.yaml', ROOT],
])('%s is up to date (regenerate with npm run envoy:examples)', (file, config, cwd) => {
  expect(fs.readFileSync(path.join(ROOT, file), 'utf8')).toBe(generated(config, cwd));
});

// CI installs a Compose tool (.ci/run); on a developer machine without one this check is skipped.
const hasCompose = process.env.CI === 'true' || fs.existsSync('/usr/bin/docker-compose');
(hasCompose ? test : test.skip)('docker-compose.yml passes `compose config`', async () => {
  const { stdout } = await promisify(execFile)('bash', [path.join(ROOT, 'scripts/check-compose.sh')]);
  expect(stdout).toContain('check-compose:');
});

// ---- docker-compose.yml, resolved by the Compose tool: the store is PostgreSQL on a volume ----

/** `docker compose` (v2 plugin) or `docker-compose` (standalone), as scripts/check-compose.sh. */
function composeTool(): string[] | undefined {
  const works = (cmd: string, args: string[]) => spawnSync(cmd, [...args, 'version'], { stdio: 'ignore' }).status === 0;
  if (works('docker', ['compose'])) return ['docker', 'compose'];
  if (works('docker-compose', [])) return ['docker-compose'];
  return undefined;
}
const compose = hasCompose ? composeTool() : undefined;

const SECRETS = { POSTGRES_PASSWORD: 'pg p@ss/word:with#chars', GATEWAY_ENCRYPTION_KEY: 'a'.repeat(64) };

/** `compose config` of docker-compose.yml with these variables only (no .env file, no shell's). */
function composeConfig(vars: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compose-env-')), 'empty.env');
  fs.writeFileSync(envFile, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(POSTGRES_|GATEWAY_|OPENAI_API_KEY$|COMPOSE_)/.test(k)) env[k] = v;
  const [cmd, ...pre] = compose!;
  const r = spawnSync(cmd, [...pre, '--env-file', envFile, '-f', path.join(ROOT, 'docker-compose.yml'), 'config'], {
    cwd: ROOT,
    env: { ...env, ...vars },
    encoding: 'utf8',
  });
  fs.rmSync(path.dirname(envFile), { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A service's volumes as { source, target }, from either Compose's short or long syntax. */
function volumesOf(service: any): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v: any) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return { source, target };
  });
}

describe('docker-compose.yml stores in PostgreSQL', () => {
  const maybe = compose ? test : test.skip;
  let resolved: any;
  beforeAll(() => {
    if (!compose) return;
    const r = composeConfig(SECRETS);
    if (r.status !== 0) throw new Error(`compose config failed: ${r.stderr}`);
    resolved = YAML.parse(r.stdout);
  });

  maybe('a pinned postgres service on a named volume, with a pg_isready health check', () => {
    const pg = resolved.services.postgres;
    expect(pg).toBeDefined();
    // Official image, version pinned to a minor release (not latest, not a bare major).
    expect(pg.image).toMatch(/^postgres:\d+\.\d+(-[a-z0-9.]+)?$/);
    const data = volumesOf(pg).find((v) => v.target === '/var/lib/postgresql/data');
    expect(data).toBeDefined();
    // A named volume declared at the top level, not a bind mount or an anonymous volume.
    expect(data!.source).toMatch(/^[A-Za-z0-9][\w.-]*$/);
    expect(Object.keys(resolved.volumes ?? {})).toContain(data!.source);
    expect(pg.tmpfs ?? []).toEqual([]);
    const check = ([] as string[]).concat(pg.healthcheck?.test ?? []).join(' ');
    expect(check).toContain('pg_isready');
    expect(pg.environment.POSTGRES_PASSWORD).toBe(SECRETS.POSTGRES_PASSWORD);
  });

  maybe('the gateway uses it (DATABASE_URL, healthy before start) and keeps Redis for counters', () => {
    const gw = resolved.services.gateway;
    const env = gw.environment;
    expect(isPostgresUrl(env.DATABASE_URL)).toBe(true);
    const url = new URL(env.DATABASE_URL);
    const pg = resolved.services.postgres;
    expect(url.hostname).toBe('postgres');
    expect(decodeURIComponent(url.pathname.slice(1))).toBe(pg.environment.POSTGRES_DB);
    expect(decodeURIComponent(url.username)).toBe(pg.environment.POSTGRES_USER);
    // The password: in the URL or (as here) in PGPASSWORD, which the driver reads.
    expect(decodeURIComponent(url.password) || env.PGPASSWORD).toBe(SECRETS.POSTGRES_PASSWORD);
    // Provider credentials in the database are readable after a restart only with a set key.
    expect(env.GATEWAY_ENCRYPTION_KEY).toBe(SECRETS.GATEWAY_ENCRYPTION_KEY);
    expect(gw.depends_on.postgres.condition).toBe('service_healthy');
    expect(gw.depends_on.redis.condition).toBe('service_healthy');
    expect(new URL(env.REDIS_URL).hostname).toBe('redis');
    expect(resolved.services.redis).toBeDefined();
  });

  maybe('no store on tmpfs: the configuration opens PostgreSQL, and its data folder is not a tmpfs', () => {
    const gw = resolved.services.gateway;
    const config = loadConfig({ path: 'deploy/gateway.compose.yaml', cwd: ROOT, env: gw.environment });
    expect(isPostgresUrl(config.store.database_url ?? gw.environment.DATABASE_URL)).toBe(true);
    const dataDir = path.posix.resolve('/etc/llm-gateway', config.store.data_dir);
    const tmpfs: string[] = ([] as any[]).concat(gw.tmpfs ?? []).map((t) => String(t).split(':')[0]);
    for (const mount of tmpfs) expect(dataDir === mount || dataDir.startsWith(mount + '/')).toBe(false);
    expect(dataDir.startsWith('/tmp/')).toBe(false);
  });

  maybe('compose refuses to run without a database password (no default one)', () => {
    const r = composeConfig({ GATEWAY_ENCRYPTION_KEY: SECRETS.GATEWAY_ENCRYPTION_KEY });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('POSTGRES_PASSWORD');
  });
});

// ---- Dockerfile: a thin wrapper around scripts/build-image.sh ----

describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));
  const stages = instructions.join('\n').split(/^FROM /m).slice(1);

  test('builds with scripts/build-image.sh only (no install steps of its own)', () => {
    const runs = instructions.filter((l) => /^RUN\b/.test(l));
    expect(runs.some((l) => l.includes('scripts/build-image.sh'))).toBe(true);
    for (const l of runs) expect(l).not.toMatch(/\bnpm (ci|install|prune|run)\b|\btsc\b/);
    expect(fs.statSync(path.join(ROOT, 'scripts/build-image.sh')).mode & 0o111).not.toBe(0);
  });

  test('runs as a non-root user with a health check, from the build output', () => {
    const runtime = stages[stages.length - 1];
    expect(runtime).toMatch(/^COPY --from=build /m);
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
    expect(runtime).toContain('/health');
  });

  test('copies only files that exist and that .dockerignore lets into the context', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    // Secrets never reach the build context.
    expect(ignore).toEqual(expect.arrayContaining(['.env', '*.env']));
    const sources = instructions
      .filter((l) => /^COPY /.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(fs.existsSync(path.join(ROOT, src))).toBe(true);
      const top = src.split('/')[0];
      const reincluded = ignore.includes(`!${src}`);
      expect({ src, ignored: !reincluded && (ignore.includes(src) || ignore.includes(top) || ignore.includes(`${top}/*`)) }).toEqual({ src, ignored: false });
    }
  });
});
