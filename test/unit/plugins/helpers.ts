import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { ConfigError } from '../../../src/config/load';
import type { FallbackConfig, GatewayConfig, ModelMappingConfig, ProviderConfig } from '../../../src/config/types';
import { InFlight } from '../../../src/core/attempts';
import { ExchangeContext, RequestState, ResponseState } from '../../../src/core/context';
import { parsePath } from '../../../src/core/endpoints';
import type { ExchangeDeps } from '../../../src/core/exchange';
import { Headers } from '../../../src/core/headers';
import { UpstreamAttempt } from '../../../src/core/upstream-attempt';
import { isGatewayError, type GatewayError } from '../../../src/domain/errors';
import type { KeySpec } from '../../../src/keys/schema';
import { SecretBox } from '../../../src/keys/secrets';
import { KeyService } from '../../../src/keys/service';
import type { Logger } from '../../../src/observability/logger';
import { GatewayMetrics } from '../../../src/observability/metrics';
import { validatePluginOptions } from '../../../src/plugins/loader';
import type { PluginDefinition, PluginHooks } from '../../../src/plugins/api';
import type { LoadedPlugin, PluginHost } from '../../../src/plugins/host';
import { coreServices, loadPlugins, type CoreServices } from '../../../src/processor';
import type { AuditEvent, JsonObject, Principal } from '../../../src/domain';
import { mappingsFrom, ProviderRegistry, toRuntime } from '../../../src/control/provider-registry';
import { FallbackPlanner } from '../../../src/routing/fallbacks';
import { SettingsService } from '../../../src/security/settings';
import { usageFromRow } from '../../../src/store/migrations';
import { SqliteStore } from '../../../src/store/sqlite';
import type { UsageRecord } from '../../../src/store/types';
import { Pricing } from '../../../src/usage/pricing';
import { UsageWriter } from '../../../src/usage/writer';

/**
 * Real in-process parts for plugin tests: an in-memory SQLite store, a KeyService over it, the
 * batched usage writer, a provider registry, Prometheus metrics and a JSON logger whose lines
 * are kept. No module of the project is mocked.
 */

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** A pino logger (debug and up) whose lines are parsed into `lines`. */
export function capturingLogger(lines: LogLine[] = []): { log: Logger; lines: LogLine[] } {
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

export type ProviderSpec = Pick<ProviderConfig, 'name' | 'type'> & Partial<ProviderConfig>;

export const provider = (p: ProviderSpec): ProviderConfig => ({
  base_url: `http://127.0.0.1:9/${p.name}/v1`,
  api_key: `sk-${p.name}-secret`,
  models: [],
  headers: {},
  timeout_seconds: 0,
  translated_apis: [],
  ...p,
});

export interface TestHostOptions {
  providers?: ProviderSpec[];
  models?: ModelMappingConfig[];
  /** Clock of the key service (expiry). */
  now?: () => number;
}

/** A plugin entry of gateway.yaml (enabled, fail_closed, 1 s timeout). */
export interface PluginEntry {
  use: string;
  options?: Record<string, unknown>;
}

export interface TestHost {
  /** What the processor gives plugins besides the provider catalogue. */
  services: CoreServices;
  /** Loads plugins as the processor does (loadPlugins), with these services. */
  load(plugins: (string | PluginEntry)[]): Promise<PluginHost>;
  metrics: GatewayMetrics;
  store: SqliteStore;
  keys: KeyService;
  registry: ProviderRegistry;
  writer: UsageWriter;
  audits: AuditEvent[];
  /** The logger plugins get (host.log); its lines land in `logs`. */
  log: Logger;
  logs: LogLine[];
  /** The stored usage records, once the writer has flushed its queue. */
  usageRecords(): Promise<UsageRecord[]>;
  close(): Promise<void>;
}

const noop = () => {};
const writerEvents = { queued: noop, written: noop, retried: noop, dropped: noop, depth: noop };

export async function testHost(opts: TestHostOptions = {}): Promise<TestHost> {
  const { log, lines } = capturingLogger();
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const keys = new KeyService(store.keys, new SecretBox(randomBytes(32)), { now: opts.now, cacheTtlMs: 0 });
  const registry = new ProviderRegistry((opts.providers ?? []).map((p) => toRuntime(provider(p), {})), mappingsFrom(opts.models ?? []), () => 0);
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const writer = new UsageWriter(store.usage, { maxQueue: 1000, batchSize: 100, flushIntervalMs: 10, maxBackoffMs: 100 }, writerEvents, log);
  const settings = new SettingsService({ content_filtering_enabled: false, audit_logging_enabled: true, data_isolation_enabled: false, content_filters: [] });
  const audits: AuditEvent[] = [];
  const services = coreServices({ keys, writer, usage: store.usage, pricing: new Pricing({ models: {}, tier_multipliers: {} }), metrics, settings, audit: (e) => void audits.push(e) });
  const load = (plugins: (string | PluginEntry)[]) => {
    const entries = plugins.map((p) => (typeof p === 'string' ? { use: p } : p));
    const config = { base_dir: '.', plugins: entries.map((e) => ({ options: {}, ...e, enabled: true, timeout_ms: 1000, on_error: 'fail_closed' as const })) };
    return loadPlugins(config as GatewayConfig, registry, log, services, metrics);
  };
  return {
    services,
    load,
    metrics,
    store,
    keys,
    registry,
    writer,
    audits,
    log,
    logs: lines,
    async usageRecords() {
      await writer.flush();
      return (store.stmt('SELECT * FROM usage_records ORDER BY time, id').all() as Record<string, unknown>[]).map(usageFromRow);
    },
    async close() {
      await writer.close();
      await store.close();
    },
  };
}

/** A fresh host with one plugin loaded on it (what each test of a plugin starts from). */
export async function harness<O>(def: PluginDefinition<O>, opts: TestHostOptions = {}, options: Record<string, unknown> = {}): Promise<{ h: TestHost; hooks: PluginHooks }> {
  const h = await testHost(opts);
  return { h, hooks: await createPlugin(def, h, options) };
}

/** A plugin made of bare hooks, as the loader lists it (fail_closed, 1 s timeout). */
export function hooksPlugin(name: string, hooks: PluginHooks): LoadedPlugin {
  return { name, hooks, timeoutMs: 1000, onError: 'fail_closed' };
}

export interface ExchangeOptions extends Partial<Pick<ExchangeDeps, 'pricing' | 'rateLimitKinds' | 'logBodies'>> {
  /** The logger of the exchange and its upstream attempts (default: the host's). */
  log?: Logger;
  /** The fallbacks the route planner knows (default: none). */
  fallbacks?: FallbackConfig[];
}

/**
 * What an Exchange is made from, wired as the processor wires it: these plugins over the host's
 * provider registry and metrics, a fresh in-flight table, its upstream attempts and a fallback planner.
 */
export function exchangeDeps(h: TestHost, plugins: PluginHost, opts: ExchangeOptions = {}): ExchangeDeps {
  const { log = h.log, fallbacks = [], ...optional } = opts;
  const inflight = new InFlight();
  const planner = new FallbackPlanner(fallbacks, h.registry);
  return {
    plugins,
    providers: h.registry,
    metrics: h.metrics,
    log,
    routingHeader: 'x-gateway-cluster',
    inflight,
    attempts: new UpstreamAttempt({ plugins, providers: h.registry, inflight, log }),
    planRoute: (ctx, target) => planner.plan(ctx, target),
    ...optional,
  };
}

/** Creates a key through the KeyService and returns its secret. */
export async function createKey(h: TestHost, spec: KeySpec = {}): Promise<{ id: string; secret: string }> {
  const { key, secret } = await h.keys.create(spec);
  return { id: key.id, secret };
}

/** A plugin's options as the loader hands them over: validated against its schema, defaults filled in. */
export function configure<O>(def: PluginDefinition<O>, options: Record<string, unknown> = {}): O {
  const cfg = { use: def.name, enabled: true, options, timeout_ms: 1000, on_error: 'fail_closed' as const };
  return validatePluginOptions(def as PluginDefinition, cfg, 0) as O;
}

/** The loader's problems with these options (empty when they are accepted). */
export function optionProblems(def: PluginDefinition<any>, options: Record<string, unknown>): string[] {
  try {
    configure(def, options);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** The hooks of a built-in plugin, loaded by its name through the real loader (schema defaults, host API). */
export async function createPlugin<O>(def: PluginDefinition<O>, h: TestHost, options: Record<string, unknown> = {}): Promise<PluginHooks> {
  const host = await h.load([{ use: def.name, options }]);
  expect(host.plugins.map((p) => p.name)).toEqual([def.name]);
  return host.plugins[0]!.hooks;
}

export interface RequestSpec {
  method?: string;
  /** Path with an optional query string. */
  path?: string;
  headers?: Record<string, string>;
  body?: JsonObject;
  principal?: Principal;
  log?: Logger;
  /** The gateway's id of the request (usage records are unique by it). */
  id?: string;
}

/** The context hooks see for a request, built as the exchange builds it. */
export function requestContext(spec: RequestSpec = {}): ExchangeContext {
  const raw = spec.path ?? '/v1/chat/completions';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const { endpoint, prefix } = parsePath(path);
  const req = new RequestState(spec.method ?? 'POST', path, q < 0 ? '' : raw.slice(q + 1), new Headers(Object.entries(spec.headers ?? {})), endpoint, prefix);
  req.body = spec.body;
  const ctx = new ExchangeContext(spec.id ?? 'ex-1', 'req-1', 0, req, spec.log ?? pino({ level: 'silent' }));
  ctx.principal = spec.principal;
  return ctx;
}

/** Gives the context a response, as the exchange does when the response headers arrive. */
export function withResponse(ctx: ExchangeContext, status: number, headers: Record<string, string> = {}, streamed = false): ExchangeContext {
  ctx.response = new ResponseState(status, new Headers(Object.entries(headers)), streamed);
  return ctx;
}

/** The GatewayError a hook throws (synchronously or by rejecting); fails when it does not throw one. */
export async function gatewayError(run: () => unknown): Promise<GatewayError> {
  try {
    await run();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected the hook to throw a GatewayError, but it returned');
}

/** The value of one series of a metric (`series` for a histogram's `_count` or `_sum`); 0 when absent. */
export async function metricValue(metrics: GatewayMetrics, name: string, labels: Record<string, string>, series = name): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const hit = values.find(
    (v) => ((v as { metricName?: string }).metricName ?? name) === series && Object.keys(v.labels).length === wanted.length && wanted.every(([k, val]) => v.labels[k] === val),
  );
  return hit?.value ?? 0;
}

let recordSeq = 0;

/** A usage record for one request of `keyId` (tokens and cost as given). */
export function usageRecord(keyId: string | null, r: Partial<UsageRecord> = {}): UsageRecord {
  recordSeq++;
  return {
    id: `rec-${recordSeq}`, requestId: null, time: Date.now(), keyId, user: null, team: null, tier: null, endpoint: 'standard', api: 'chat.completions',
    provider: 'p', modelRequested: 'm', modelServed: 'm', promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0,
    totalTokens: 0, costUsd: 0, durationMs: 1, ttftMs: null, status: 200, streamed: false, outcome: 'completed', ...r,
  };
}
