import type http from 'node:http';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import path from 'node:path';
import { GrpcServer } from './envoy/grpc/server';
import { adminAuthenticator } from './admin/auth';
import { registerAuditRoutes } from './admin/audit-api';
import { adminJwtVerifier } from './admin/jwt';
import { registerSecurityRoutes } from './admin/security-api';
import { registerHealthRoutes, type EnvoyProbe } from './admin/health';
import { registerKeyRoutes } from './admin/keys-api';
import { registerUsageRoutes } from './admin/usage-api';
import { AdminRouter } from './admin/router';
import { registerConsoleRoutes } from './admin/console/routes';
import { ConsoleSessions } from './admin/console/sessions';
import { sessionLimits } from './admin/console/config';
import { createAdminServer } from './admin/server';
import { ConfigError } from './config/load';
import type { GatewayConfig } from './config/types';
import type { ExchangeDeps } from './core/exchange';
import { InFlight } from './core/attempts';
import { UpstreamAttempt } from './core/upstream-attempt';
import { startEchoServer } from './demo/echo-provider';
import { FallbackPlanner } from './routing/fallbacks';
import { SettingsService } from './security/settings';
import { AuditService } from './security/audit';
import { providerClusters, ROUTING_HEADER } from './envoy/config/bootstrap';
import { ProviderManager } from './control/provider-manager';
import { registerProviderRoutes } from './admin/providers-api';
import { XdsServer } from './envoy/xds/server';
import { extProcService } from './envoy/extproc/service';
import { createRateLimiter } from './ratelimit';
import { rateLimitService } from './envoy/ratelimit/service';
import { rateLimitPublication } from './envoy/metadata';
import { importKeys, keyInfo } from './keys/config-keys';
import { KeyService } from './keys/service';
import { loadEncryptionKey, SecretBox } from './keys/secrets';
import type { Logger } from './observability/logger';
import { GatewayMetrics } from './observability/metrics';
import { createTracer } from './observability/tracing';
import { PluginHost } from './plugins/host';
import { mappingsFrom, ProviderRegistry, toRuntime } from './control/provider-registry';
import type { BudgetLedger, PluginHostApi, PriceBook } from './plugins/api';
import { BudgetService, createBudgetService, MemoryLedger, type SpendSource } from './budgets';
import { DEFAULT_BUDGETS } from './budgets/config';
import type { AuditEvent } from './domain';
import type { ProviderRuntime } from './providers/types';
import { openStore } from './store';
import type { Store, UsageStore } from './store/types';
import { Pricing } from './usage/pricing';
import { UsageWriter } from './usage/writer';
import { withTimeout } from './util/async';
import { registerMcpAccessRoutes, registerMcpServerRoutes, startMcpGateway, type McpGateway } from './mcp';

export interface Processor {
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly echoPort: number | undefined;
  readonly providers: ProviderRegistry;
  readonly metrics: GatewayMetrics;
  readonly router: AdminRouter;
  readonly store: Store;
  readonly keys: KeyService;
  /** Ends every request in flight as `interrupted`: shutdown is about to cut them. */
  interrupt(): Promise<void>;
  /**
   * Re-reads what another process may have changed (keys, settings, providers) now rather than
   * at the next poll: processor workers are told to after every admin change.
   */
  refresh(): Promise<void>;
  /**
   * Sends Envoy's connections elsewhere (GOAWAY), each once no request on it waits for
   * per-attempt streams: a replaced worker gets its share of them again. Resolves with the
   * number closed.
   */
  moveConnections(timeoutMs: number): Promise<number>;
  /**
   * Stops serving. Requests in flight get up to `graceMs` to finish first (with --no-envoy,
   * Envoy runs elsewhere and may still be sending them); the rest are interrupted. Resolves once
   * every usage record is written.
   */
  close(graceMs?: number): Promise<void>;
}

const IDLE_POLL_MS = 100;
/** Polls in a row with nothing in flight that count as idle: Envoy may still be between requests. */
const IDLE_POLLS = 5;

/** Resolves true once nothing has been in flight for a few polls, false if `graceMs` runs out first. */
async function whenIdle(active: () => number, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (let quiet = 0; ; ) {
    quiet = active() === 0 ? quiet + 1 : 0;
    if (quiet >= IDLE_POLLS) return true;
    if (Date.now() >= deadline) return active() === 0;
    await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
  }
}

export function providerRuntimes(config: GatewayConfig, log: Logger): ProviderRuntime[] {
  return config.providers.map((cfg) => {
    const p = toRuntime(cfg);
    if (!p.available) log.warn({ provider: p.name, env: cfg.api_key_env ?? cfg.api_key?.slice(4) }, 'provider disabled: its API key variable is not set');
    return p;
  });
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** The services plugins may use, beyond the provider catalogue. */
export type CoreServices = Pick<PluginHostApi, 'keys' | 'usage' | 'pricing' | 'metrics' | 'security' | 'audit' | 'budgets'>;

/** What plugins get from the host, over the processor's own services. */
export function coreServices(d: {
  keys: KeyService;
  writer: UsageWriter;
  usage: Pick<UsageStore, 'totalsForKey' | 'query'>;
  pricing: PriceBook;
  metrics: GatewayMetrics;
  settings: SettingsService;
  audit: (e: AuditEvent) => void;
  /** The budget ledger; default: an in-process one seeded from `usage` (tests). */
  budgets?: BudgetLedger;
}): CoreServices {
  return {
    keys: {
      async authenticate(secret) {
        const r = await d.keys.authenticate(secret);
        return r.ok ? { ok: true, key: keyInfo(r.key), credential: d.keys.providerCredential(r.key) } : r;
      },
    },
    usage: { record: (r) => d.writer.enqueue(r), totalsForKey: (id, since) => d.usage.totalsForKey(id, since) },
    pricing: d.pricing,
    metrics: d.metrics.api,
    security: { current: () => d.settings.current(), addValidator: (v) => d.settings.addValidator(v) },
    audit: { record: d.audit },
    budgets: d.budgets ?? new BudgetService(DEFAULT_BUDGETS, new MemoryLedger(), storeSpend(d.usage)),
  };
}

/** What the usage records say a key or a team has spent: the budget ledger's seed. */
export function storeSpend(usage: Pick<UsageStore, 'totalsForKey' | 'query'>): SpendSource {
  return {
    forKey: (id) => usage.totalsForKey(id),
    forTeam: async (team) => (await usage.query({ team }))[0] ?? { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, costUsd: 0 },
  };
}

/** Loads the configured plugins, giving them the small APIs they may use. */
export function loadPlugins(
  config: GatewayConfig,
  registry: ProviderRegistry,
  log: Logger,
  services: CoreServices,
  metrics?: GatewayMetrics,
): Promise<PluginHost> {
  return PluginHost.load(
    config.plugins,
    {
      log,
      baseDir: config.base_dir,
      providers: {
        list: () => registry.all().map((p) => registry.info(p)),
        get: (name) => {
          const p = registry.get(name);
          return p && registry.info(p);
        },
        resolve: (model) => registry.resolve(model),
        models: () => registry.catalog(),
      },
      ...services,
    },
    (f) => metrics?.pluginErrors.inc(f),
  );
}

/** The configured security settings must pass the validators plugins registered while loading. */
export function checkSecuritySettings(settings: SettingsService): void {
  const problem = settings.validate(settings.current());
  if (problem) throw new ConfigError('invalid gateway configuration', [`security.${problem.param}: ${problem.message}`]);
}

/**
 * What this process serves: 'all' (one processor), or with processor workers the 'primary'
 * (admin API, xDS, rate limits; ext_proc too, unused) and each 'worker' (ext_proc only, on
 * processor.ext_proc_port, sharing the store with the primary).
 */
export type ProcessorRole = 'all' | 'primary' | 'worker';

export interface ProcessorOptions {
  envoy?: EnvoyProbe;
  providers?: ProviderRuntime[];
  env?: NodeJS.ProcessEnv;
  role?: ProcessorRole;
  /** The primary: called after every admin change, before it is answered (tells the workers). */
  afterAdminChange?: () => Promise<void>;
  /** The primary: worker metrics to merge into /metrics. */
  workerMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
}

/**
 * Starts everything the processor serves: ext_proc over gRPC, the admin HTTP API and, when
 * enabled, the echo demo provider. Envoy itself is started by the CLI.
 */
export async function startProcessor(config: GatewayConfig, log: Logger, opts: ProcessorOptions = {}): Promise<Processor> {
  const role = opts.role ?? 'all';
  const startedAt = Date.now();
  const metrics = new GatewayMetrics();
  const env = opts.env ?? process.env;
  const registry = new ProviderRegistry(opts.providers ?? providerRuntimes(config, log), mappingsFrom(config.models));
  const dataDir = path.resolve(config.base_dir, config.store.data_dir);
  const store = await openStore({ databaseUrl: config.store.database_url ?? env.DATABASE_URL, dataDir, log });
  const box = new SecretBox(loadEncryptionKey(dataDir, env));
  const keys = new KeyService(store.keys, box, {
    cacheTtlMs: config.keys.cache_ttl_ms,
    onStoreError: (err) => log.warn({ err: { message: err.message } }, 'key lookup failed; serving cached keys'),
  });
  // Keys from the configuration are imported once, by the process that owns the admin API.
  if (role !== 'worker') await importKeys(config, keys, log, env);
  const pricing = new Pricing(config.pricing);
  const settings = new SettingsService(config.security);
  const audit = new AuditService(store.audit, settings, metrics.api, log);
  const jwt = await adminJwtVerifier(config, env);
  const writer = new UsageWriter(
    store.usage,
    { maxQueue: config.usage.max_queue, batchSize: config.usage.batch_size, flushIntervalMs: config.usage.flush_interval_ms, maxBackoffMs: 5000 },
    {
      queued: (n) => metrics.usageRecords.inc({ result: 'queued' }, n),
      written: (n) => metrics.usageRecords.inc({ result: 'written' }, n),
      retried: (n) => metrics.usageRecords.inc({ result: 'retried' }, n),
      dropped: (n) => metrics.usageRecords.inc({ result: 'dropped' }, n),
      depth: (n) => metrics.usageQueueDepth.set(n),
    },
    log,
  );
  const budgets = createBudgetService(config.budgets, storeSpend(store.usage), { log, redisUrl: config.rate_limits.redis_url || env.REDIS_URL || undefined });
  // Each worker would keep its own in-process ledger: budgets shared by workers need Redis.
  if (role === 'primary' && budgets.backendName === 'memory') log.warn('budgets: processor workers without Redis each keep their own budget ledger; set budgets.redis_url for key and team budgets');
  const services = coreServices({ keys, writer, usage: store.usage, pricing, metrics, settings, audit: (e) => audit.record(e), budgets });
  const plugins = await loadPlugins(config, registry, log, services, metrics);
  checkSecuritySettings(settings);
  // Shared by every replica from here on: stored settings win over the configured ones.
  await settings.attach(store.settings, log);
  // envoy.service.ratelimit.v3: Envoy's rate limit filter asks here (src/ratelimit).
  const limiter = createRateLimiter(config, { log, registry: metrics.registry, env });
  const inflight = new InFlight();
  const planner = new FallbackPlanner(config.fallbacks, registry);
  // undefined unless tracing.enabled: the OpenTelemetry SDK is loaded only then.
  const tracer = createTracer(config.tracing, log, { env });
  const attempts = new UpstreamAttempt({ plugins, providers: registry, inflight, log, tracer });
  const deps: ExchangeDeps = {
    plugins,
    providers: registry,
    metrics,
    log,
    routingHeader: ROUTING_HEADER,
    requestTimeoutMs: config.server.request_timeout_seconds * 1000,
    logBodies: config.logging.bodies.enabled ? { maxBytes: config.logging.bodies.max_bytes } : undefined,
    pricing,
    inflight,
    attempts,
    planRoute: (ctx, target) => planner.plan(ctx, target),
    rateLimitKinds: (rateLimit, metadata) => limiter.applicableKinds(rateLimitPublication(rateLimit, metadata)),
    tracer,
  };
  const xds = new XdsServer(log);
  const manager = new ProviderManager(
    registry,
    store.providers,
    box,
    (providers) => providerClusters(config, providers, planner),
    xds,
    log,
    new Set(config.providers.map((p) => p.name)),
  );
  await manager.start();

  const grpcServer = new GrpcServer({ maxMessageBytes: 64 * 1024 * 1024 });
  const extproc = extProcService(deps, attempts);
  grpcServer.addService(extproc.definition, extproc.implementation);
  if (role !== 'worker') {
    // Rate limit counters and xDS state live in one process, whatever the number of workers.
    const ads = xds.service();
    grpcServer.addService(ads.definition, ads.implementation);
    const rls = rateLimitService(limiter);
    grpcServer.addService(rls.definition, rls.implementation);
  }
  // Workers listen on one shared port (node:cluster hands each connection to one of them).
  const grpcPort = await grpcServer.listen(config.processor.listen_address, role === 'worker' ? config.processor.ext_proc_port : config.processor.grpc_port);

  const router = new AdminRouter(opts.afterAdminChange);
  let admin: http.Server | undefined;
  let echo: http.Server | undefined;
  let mcp: McpGateway | undefined;
  if (role !== 'worker') {
    registerHealthRoutes(router, {
      envoy: opts.envoy,
      metrics,
      startedAt,
      providers: () => registry.all().map((p) => ({ name: p.name, type: p.type, cluster: p.cluster, available: p.available })),
      workerMetrics: opts.workerMetrics,
    });
    // Admin bodies are read only once the caller is authenticated (router.ts).
    // Console sign-ins live in this process, the one that serves the admin API (docs/console.md).
    const consoleSessions = new ConsoleSessions(Date.now, sessionLimits(config.admin_auth.console));
    const authenticate = router.withBodyAfterAuth(adminAuthenticator(keys, metrics, { jwt, audit, sessions: consoleSessions }));
    registerKeyRoutes(router, keys, metrics, authenticate, audit, settings);
    registerUsageRoutes(router, store.usage, authenticate, settings);
    registerProviderRoutes(router, registry, manager, authenticate, audit);
    registerSecurityRoutes(router, settings, audit, authenticate);
    registerAuditRoutes(router, audit, settings, authenticate);
    // The MCP gateway (src/mcp): its servers' admin routes, and /mcp itself when mcp.enabled.
    mcp = await startMcpGateway({ config, store: store.mcpServers, accessStore: store.mcpAccess, box, keys, limiter, plugins: plugins.plugins, usage: (r) => writer.enqueue(r), audit: (e) => audit.record(e), log, metrics: metrics.api, env });
    registerMcpServerRoutes(router, mcp.servers, authenticate, audit);
    registerMcpAccessRoutes(router, mcp.access, authenticate, audit);
    registerConsoleRoutes(router, consoleSessions, authenticate, audit);
    admin = createAdminServer(router, log);
    if (config.demo.echo.enabled) {
      echo = await startEchoServer(config.processor.listen_address, config.demo.echo.port, { chunkDelayMs: config.demo.echo.chunk_delay_ms });
    }
  }
  const adminPort = admin ? await listen(admin, config.processor.listen_address, config.processor.admin_port) : 0;
  const echoPort = echo ? (echo.address() as { port: number }).port : undefined;
  log.info({ role, grpc_port: grpcPort, admin_port: adminPort || undefined, echo_port: echoPort, plugins: plugins.plugins.map((p) => p.name) }, 'processor started');

  const interrupt = () =>
    // A session first finishes the message it is on (plugin calls are bounded); never wait forever.
    withTimeout(extproc.interrupt(), 10_000, () => new Error('requests in flight did not end in 10 s')).catch((err: Error) =>
      log.error({ err: { message: err.message } }, 'interrupting requests in flight failed'),
    );
  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    adminPort,
    echoPort,
    providers: registry,
    metrics,
    router,
    store,
    keys,
    interrupt,
    async refresh() {
      keys.clearCache();
      // A poll already under way may have read the store before the change: read again after it.
      await settings.refresh();
      await settings.refresh();
      await manager.refresh();
      await mcp?.refresh();
    },
    moveConnections(timeoutMs) {
      return grpcServer.closeConnections((c) => extproc.movable(c), timeoutMs);
    },
    close(graceMs = 0) {
      closing ??= (async () => {
        // ext_proc streams and rate limit calls are served until then.
        if (!(await whenIdle(() => extproc.active, graceMs))) log.warn({ in_flight: extproc.active }, 'cutting the requests still in flight');
        await interrupt();
        await new Promise<void>((resolve) => {
          // Interrupted streams are no longer answered: no point waiting long for them.
          const force = setTimeout(() => {
            grpcServer.forceShutdown();
            resolve();
          }, 1000);
          grpcServer.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        admin?.closeAllConnections();
        echo?.closeAllConnections();
        await Promise.all([admin ? new Promise((r) => admin!.close(r)) : undefined, echo ? new Promise((r) => echo!.close(r)) : undefined]);
        manager.stop();
        await mcp?.close();
        settings.stop();
        xds.close();
        // Every request has ended (interrupted ones too): their spans go out before the process does.
        if (tracer) {
          await withTimeout(tracer.shutdown(), 5_000, () => new Error('trace export did not finish in 5 s')).catch((err: Error) =>
            log.warn({ err: { message: err.message } }, 'flushing traces failed'),
          );
        }
        // Plugins may still enqueue usage while closing; the writer flushes after them.
        await plugins.close();
        await limiter.close();
        await budgets.close();
        await writer.close();
        await audit.close();
        await store.close();
      })();
      return closing;
    },
  };
}
