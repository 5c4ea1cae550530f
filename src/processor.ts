import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { registerHealthRoutes, type EnvoyProbe } from './admin/health';
import { AdminRouter } from './admin/router';
import { createAdminServer } from './admin/server';
import type { GatewayConfig } from './config/types';
import type { ExchangeDeps } from './core/exchange';
import { startEchoServer } from './demo/echo-provider';
import { ROUTING_HEADER } from './envoy/bootstrap';
import { extProcService } from './extproc/service';
import type { Logger } from './observability/logger';
import { GatewayMetrics } from './observability/metrics';
import { PluginHost } from './plugins/host';
import { ProviderRegistry, toRuntime } from './providers/registry';
import type { ProviderRuntime } from './providers/types';

export interface Processor {
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly echoPort: number | undefined;
  readonly providers: ProviderRegistry;
  readonly metrics: GatewayMetrics;
  readonly router: AdminRouter;
  close(graceMs?: number): Promise<void>;
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

/** Loads the configured plugins, giving them the small provider API they may use. */
export function loadPlugins(config: GatewayConfig, registry: ProviderRegistry, log: Logger, metrics?: GatewayMetrics): Promise<PluginHost> {
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
      },
    },
    (f) => metrics?.pluginErrors.inc(f),
  );
}

/**
 * Starts everything the processor serves: ext_proc over gRPC, the admin HTTP API and, when
 * enabled, the echo demo provider. Envoy itself is started by the CLI.
 */
export async function startProcessor(config: GatewayConfig, log: Logger, opts: { envoy?: EnvoyProbe; providers?: ProviderRuntime[] } = {}): Promise<Processor> {
  const startedAt = Date.now();
  const metrics = new GatewayMetrics();
  const registry = new ProviderRegistry(opts.providers ?? providerRuntimes(config, log));
  const plugins = await loadPlugins(config, registry, log, metrics);
  const deps: ExchangeDeps = { plugins, providers: registry, metrics, log, routingHeader: ROUTING_HEADER };

  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const extproc = extProcService(deps);
  grpcServer.addService(extproc.definition, extproc.implementation);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`${config.processor.listen_address}:${config.processor.grpc_port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );

  const router = new AdminRouter();
  registerHealthRoutes(router, {
    envoy: opts.envoy,
    metrics,
    startedAt,
    providers: () => Object.fromEntries(registry.all().map((p) => [p.name, { healthy: p.available, type: p.type }])),
  });
  const admin = createAdminServer(router, log);
  const adminPort = await listen(admin, config.processor.listen_address, config.processor.admin_port);

  let echo: http.Server | undefined;
  if (config.demo.echo.enabled) {
    echo = await startEchoServer(config.processor.listen_address, config.demo.echo.port, { chunkDelayMs: config.demo.echo.chunk_delay_ms });
  }
  const echoPort = echo ? (echo.address() as { port: number }).port : undefined;
  log.info({ grpc_port: grpcPort, admin_port: adminPort, echo_port: echoPort, plugins: plugins.plugins.map((p) => p.name) }, 'processor started');

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    adminPort,
    echoPort,
    providers: registry,
    metrics,
    router,
    close(graceMs = 5000) {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            grpcServer.forceShutdown();
            resolve();
          }, graceMs);
          grpcServer.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        admin.closeAllConnections();
        echo?.closeAllConnections();
        await Promise.all([new Promise((r) => admin.close(r)), echo ? new Promise((r) => echo!.close(r)) : undefined]);
        await plugins.close();
      })();
      return closing;
    },
  };
}
