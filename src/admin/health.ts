import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { GatewayMetrics } from '../observability/metrics';
import type { AdminRouter } from './router';

export interface ClusterHealth {
  /** At least one host is healthy and not ejected. */
  healthy: boolean;
  /** Every host is ejected by outlier detection. */
  ejected: boolean;
  /** A circuit breaker of the cluster is open. */
  circuit_open: boolean;
}

export interface EnvoyProbe {
  /** Envoy's readiness, or undefined when this processor does not know of an Envoy. */
  check(): Promise<{ state: 'live' | 'unreachable' | 'not_ready'; detail?: string } | undefined>;
  /** Per-cluster health as Envoy sees it (cluster name → state); empty when unknown. */
  clusters?(): Promise<Map<string, ClusterHealth>>;
}

interface ClustersJson {
  cluster_statuses?: { name: string; host_statuses?: { health_status?: Record<string, unknown> }[] }[];
}

/** Reads Envoy's /clusters (host health, outlier ejection) and circuit breaker gauges. */
async function envoyClusters(base: string, timeoutMs: number): Promise<Map<string, ClusterHealth>> {
  const out = new Map<string, ClusterHealth>();
  const [clusters, stats] = await Promise.all([
    fetch(`${base}/clusters?format=json`, { signal: AbortSignal.timeout(timeoutMs) }).then((r) => r.json() as Promise<ClustersJson>),
    fetch(`${base}/stats?filter=circuit_breakers\\.default\\.(cx|rq|rq_pending)_open$`, { signal: AbortSignal.timeout(timeoutMs) }).then((r) => r.text()),
  ]);
  const open = new Set<string>();
  for (const line of stats.split('\n')) {
    const m = /^cluster\.(.+)\.circuit_breakers\.default\.\w+_open: (\d+)/.exec(line);
    if (m && m[2] !== '0') open.add(m[1]);
  }
  for (const c of clusters.cluster_statuses ?? []) {
    const hosts = c.host_statuses ?? [];
    const ejectedHosts = hosts.filter((h) => h.health_status?.failed_outlier_check === true).length;
    const healthyHosts = hosts.filter((h) => {
      const hs = h.health_status ?? {};
      return !hs.failed_outlier_check && !hs.failed_active_health_check && (hs.eds_health_status ?? 'HEALTHY') === 'HEALTHY';
    }).length;
    out.set(c.name, { healthy: healthyHosts > 0 && !open.has(c.name), ejected: hosts.length > 0 && ejectedHosts === hosts.length, circuit_open: open.has(c.name) });
  }
  return out;
}

/** Asks Envoy's admin `/ready`; used for the `envoy` part of /health. */
export function envoyAdminProbe(address: string, port: number, timeoutMs = 1000): EnvoyProbe {
  return {
    async check() {
      try {
        const res = await fetch(`http://${address}:${port}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
        const text = (await res.text()).trim();
        return res.ok ? { state: 'live' } : { state: 'not_ready', detail: text };
      } catch (err) {
        return { state: 'unreachable', detail: (err as Error).message };
      }
    },
    clusters: () => envoyClusters(`http://${address}:${port}`, timeoutMs).catch(() => new Map()),
  };
}

export interface HealthDeps {
  envoy?: EnvoyProbe;
  metrics: GatewayMetrics;
  /** Each provider with its Envoy cluster and whether it has a usable credential. */
  providers: () => { name: string; type: string; cluster: string; available: boolean }[];
  startedAt: number;
  /** Processor workers' metrics (as prom-client JSON), merged into /metrics. */
  workerMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
}

export function registerHealthRoutes(router: AdminRouter, deps: HealthDeps): void {
  router.add('GET', '/health', async () => {
    const [envoy, clusters] = await Promise.all([deps.envoy?.check(), deps.envoy?.clusters?.()]);
    const ok = !envoy || envoy.state === 'live';
    const providers: Record<string, unknown> = {};
    for (const p of deps.providers()) {
      const c = clusters?.get(p.cluster);
      providers[p.name] = {
        type: p.type,
        healthy: p.available && (c ? c.healthy : true),
        ejected: c?.ejected ?? false,
        circuit_open: c?.circuit_open ?? false,
        ...(p.available ? {} : { reason: 'no API key configured' }),
        ...(clusters && !c ? { reason: 'not yet known to Envoy' } : {}),
      };
    }
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'healthy' : 'unhealthy',
        timestamp: new Date().toISOString(),
        uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
        processor: { status: 'healthy' },
        envoy: envoy ?? { state: 'external' },
        providers,
      },
    };
  });
  router.add('GET', '/metrics', async () => {
    const own = deps.metrics.registry;
    // With processor workers, their counters are added to this process's (prom-client's
    // cluster aggregation: counters and histograms summed, per-process gauges as it defines).
    const raw = deps.workerMetrics ? await AggregatorRegistry.aggregate([await own.getMetricsAsJSON(), ...(await deps.workerMetrics())]).metrics() : await own.metrics();
    return { status: 200, raw, headers: { 'content-type': own.contentType }, body: undefined };
  });
}
