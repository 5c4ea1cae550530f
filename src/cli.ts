#!/usr/bin/env node
import cluster from 'node:cluster';
import path from 'node:path';
import { envoyAdminProbe } from './admin/health';
import { adminJwtVerifier } from './admin/jwt';
import { ConfigError, loadConfig } from './config/load';
import { envOverridesIn } from './config/env';
import { resolveWorkers, workerCount } from './config/workers';
import { checkPortsFree, listeningPorts, PortUnavailableError } from './config/ports';
import type { GatewayConfig } from './config/types';
import { gatewayBootstrap, writeBootstrap } from './envoy/config/bootstrap';
import { EnvoyMissingError, EnvoySupervisor, findEnvoy } from './envoy/supervisor';
import { flushLogs, gatewayLogger, LogFileError, type GatewayLog, type Logger } from './observability/logger';
import { GatewayMetrics } from './observability/metrics';
import { BudgetService, MemoryLedger } from './budgets';
import { checkSecuritySettings, loadPlugins, providerRuntimes, startProcessor, type CoreServices, type Processor } from './processor';
import { SettingsService } from './security/settings';
import { Pricing } from './usage/pricing';
import { WorkerPool } from './workers/pool';
import { runWorker } from './workers/worker';
import { ProviderRegistry } from './control/provider-registry';

const USAGE = `Usage: llm-gateway [command] [options]

Commands:
  start            start the processor and supervise Envoy (default)
  envoy-config     write the generated Envoy bootstrap and exit
  check-config     validate the configuration (and the Envoy bootstrap) and exit

Options:
  -c, --config PATH   gateway configuration (default: ./gateway.yaml, else embedded defaults;
                      also GATEWAY_CONFIG)
  --no-envoy          serve only the processor (Envoy runs elsewhere, e.g. its own container)
  -o, --out PATH      where envoy-config writes the bootstrap (default: envoy.bootstrap_path)
  -h, --help          show this help
`;

interface Args {
  command: 'start' | 'envoy-config' | 'check-config';
  config?: string;
  noEnvoy: boolean;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { command: 'start', noEnvoy: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--no-envoy') args.noEnvoy = true;
    else if (a === '-c' || a === '--config') args.config = argv[++i];
    else if (a.startsWith('--config=')) args.config = a.slice(9);
    else if (a === '-o' || a === '--out') args.out = argv[++i];
    else if (a === 'start' || a === 'envoy-config' || a === 'check-config') args.command = a;
    else throw new ConfigError(`unknown argument "${a}"\n\n${USAGE}`);
  }
  return args;
}

/** `-o` is relative to where the command runs; the configured path to the config file. */
function bootstrapFile(config: GatewayConfig, out?: string): string {
  return out ? path.resolve(out) : path.resolve(config.base_dir, config.envoy.bootstrap_path);
}

/**
 * Envoy first: it stops taking connections and finishes the requests in flight while the
 * processor still serves them; what the grace period cannot save is recorded as interrupted
 * before Envoy cuts it. With Envoy elsewhere (--no-envoy), the processor serves until its traffic
 * stops or the grace period runs out.
 */
async function stopGateway(processor: Processor, supervisor: EnvoySupervisor | undefined, graceMs: number, log: Logger): Promise<void> {
  if (!supervisor?.running) return processor.close(graceMs);
  if (!(await supervisor.drain(graceMs))) log.warn({ grace_ms: graceMs }, 'grace period over: cutting the requests still in flight');
  // Whatever is still open is cut when Envoy stops: recorded as interrupted first, so a reply
  // Envoy never got to send cannot count as completed.
  await processor.interrupt();
  await supervisor.stop();
  await processor.close();
}

/** The primary's processor, with interrupt and close reaching the workers too. */
function withWorkers(processor: Processor, workers: WorkerPool): Processor {
  return Object.assign(Object.create(processor) as Processor, {
    async interrupt() {
      await Promise.all([processor.interrupt(), workers.interrupt()]);
    },
    async close(graceMs = 0) {
      await workers.close(graceMs);
      await processor.close(graceMs);
    },
  });
}

/**
 * With a log file, SIGHUP reopens it (logrotate's `postrotate`: `kill -HUP <pid>`); the primary
 * passes the signal on to the processor workers, which write to the file too. Without one,
 * SIGHUP keeps its default (the process ends).
 */
function reopenLogOnSighup(logging: GatewayLog, log: Logger, forwardToWorkers: boolean): void {
  if (!logging.file) return;
  process.on('SIGHUP', () => {
    logging.reopen();
    if (forwardToWorkers) for (const w of Object.values(cluster.workers ?? {})) if (w && !w.isDead()) w.process.kill('SIGHUP');
    log.info({ file: logging.file }, 'log file reopened');
  });
}

async function start(config: GatewayConfig, logging: GatewayLog): Promise<void> {
  const { log } = logging;
  reopenLogOnSighup(logging, log, true);
  const overrides = envOverridesIn(process.env);
  if (overrides.length) log.info({ overrides: Object.fromEntries(overrides.map((o) => [o.variable, o.key])) }, 'configuration overridden by environment variables');
  resolveWorkers(config);
  const manageEnvoy = config.envoy.manage;
  let supervisor: EnvoySupervisor | undefined;
  let envoyBin: string | undefined;
  if (manageEnvoy) {
    const found = findEnvoy(config.envoy.binary);
    envoyBin = found.bin;
    log.info({ bin: found.bin, version: found.version }, 'envoy found');
  }
  // A port in use is one line naming its setting, before anything starts.
  await checkPortsFree(listeningPorts(config).filter((p) => manageEnvoy || p.owner === 'processor'));
  const providers = providerRuntimes(config, log);
  // With workers, they serve ext_proc and this process the rest (src/workers).
  const count = workerCount(config);
  const workers = count > 1 ? new WorkerPool(count, log) : undefined;
  if (workers && manageEnvoy && config.envoy.concurrency < count) {
    // Envoy opens one connection per worker thread, and each connection goes to one worker.
    log.warn({ workers: count, envoy_concurrency: config.envoy.concurrency }, 'more processor workers than Envoy threads: some workers will get no traffic');
  }
  const own: Processor = await startProcessor(config, log, {
    providers,
    // Without a managed Envoy its admin address is not ours to probe (it may be another container).
    envoy: manageEnvoy ? envoyAdminProbe(config.envoy.admin_address, config.envoy.admin_port) : undefined,
    role: workers ? 'primary' : 'all',
    afterAdminChange: workers && (() => workers.refresh()),
    workerMetrics: workers && (() => workers.metrics()),
  });
  if (workers) {
    // Forked once the store is migrated and the configured keys are imported.
    await workers.start().catch(async (err: Error) => {
      await workers.close(0);
      await own.close();
      throw err;
    });
  }
  const processor: Processor = workers ? withWorkers(own, workers) : own;

  let shuttingDown = false;
  const shutdown = async (code: number, reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const graceMs = config.server.shutdown_grace_seconds * 1000;
    log.info({ reason, grace_seconds: config.server.shutdown_grace_seconds }, 'shutting down');
    // The grace period, then Envoy's exit and the processor's close and usage flush (bounded each).
    const hardStop = setTimeout(() => process.exit(code || 1), graceMs + 30_000);
    hardStop.unref();
    try {
      await stopGateway(processor, supervisor, graceMs, log);
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'error during shutdown');
      code = code || 1;
    }
    log.info({ code }, 'stopped');
    flushLogs(log);
    process.exitCode = code;
    setTimeout(() => process.exit(code), 50).unref();
  };
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err: { message: err.message, stack: err.stack } }, 'uncaught exception');
    void shutdown(1, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'unhandled rejection');
  });

  if (!manageEnvoy || !envoyBin) {
    log.info({ grpc_port: processor.grpcPort, admin_port: processor.adminPort }, 'running without Envoy (--no-envoy)');
    return;
  }
  const file = writeBootstrap(bootstrapFile(config), gatewayBootstrap(config, providers));
  supervisor = new EnvoySupervisor({
    bin: envoyBin,
    bootstrapPath: file,
    logLevel: config.envoy.log_level,
    concurrency: config.envoy.concurrency,
    adminAddress: config.envoy.admin_address,
    adminPort: config.envoy.admin_port,
    log,
  });
  supervisor.on('exit', (info: { code: number | null; signal: string | null; expected?: boolean; error?: string }) => {
    if (info.expected) return;
    log.error(info, 'envoy exited unexpectedly; stopping the gateway');
    void shutdown(1, 'envoy exited');
  });
  supervisor.start();
  await supervisor.waitReady();
  log.info(
    {
      url: config.server.http_enabled ? `http://${config.server.listen_address}:${config.server.http_port}` : undefined,
      mtls_url: config.mtls.enabled ? `https://${config.mtls.listen_address}:${config.mtls.port}` : undefined,
      envoy_admin: `http://${config.envoy.admin_address}:${config.envoy.admin_port}`,
    },
    'gateway ready',
  );
}

/** Services for plugins that are only loaded to check their options: nothing is served. */
function inertServices(config: GatewayConfig, settings: SettingsService): CoreServices {
  return {
    keys: { authenticate: async () => ({ ok: false, reason: 'invalid' }) },
    usage: { record: () => undefined, totalsForKey: async () => ({ requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0 }) },
    pricing: new Pricing(config.pricing),
    metrics: new GatewayMetrics({ defaultMetrics: false }).api,
    security: { current: () => settings.current(), addValidator: (v) => settings.addValidator(v) },
    audit: { record: () => undefined },
    budgets: new BudgetService(config.budgets, new MemoryLedger(), { forKey: async () => NO_USAGE, forTeam: async () => NO_USAGE }),
  };
}

const NO_USAGE = { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0 };

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig({ path: args.config });
  if (args.noEnvoy) config.envoy.manage = false;
  const logging = gatewayLogger(config.logging, config.base_dir);
  const log = logging.log;
  if (cluster.isWorker && process.env.GATEWAY_PROCESSOR_WORKER === '1') {
    const workerLog = log.child({ worker: cluster.worker?.id });
    // Workers write their own lines to stdout and to the log file; the primary forwards SIGHUP.
    reopenLogOnSighup(logging, workerLog, false);
    process.on('uncaughtException', (err) => {
      workerLog.fatal({ err: { message: err.message, stack: err.stack } }, 'uncaught exception');
      flushLogs(workerLog);
      process.exit(1);
    });
    return runWorker(config, workerLog);
  }

  if (args.command === 'envoy-config' || args.command === 'check-config') {
    const providers = providerRuntimes(config, log);
    const file = writeBootstrap(bootstrapFile(config, args.out), gatewayBootstrap(config, providers));
    if (args.command === 'check-config') {
      // Plugins validate their own options when loaded: load them, then release them.
      const settings = new SettingsService(config.security);
      await (await loadPlugins(config, new ProviderRegistry(providers), log, inertServices(config, settings))).close();
      checkSecuritySettings(settings);
      // The admin JWT keys (PEM, JWKS, secret) must be readable and usable.
      await adminJwtVerifier(config);
      const problem = EnvoySupervisor.validate(findEnvoy(config.envoy.binary).bin, file);
      if (problem) throw new ConfigError(`generated Envoy bootstrap ${file} is invalid`, [problem]);
    }
    process.stdout.write(`${file}\n`);
    flushLogs(log);
    return;
  }
  await start(config, logging);
}

main().catch((err) => {
  if (err instanceof ConfigError || err instanceof EnvoyMissingError || err instanceof PortUnavailableError || err instanceof LogFileError) {
    process.stderr.write(`llm-gateway: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`llm-gateway: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
