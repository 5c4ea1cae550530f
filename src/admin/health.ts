import type { GatewayMetrics } from '../observability/metrics';
import type { AdminRouter } from './router';

export interface EnvoyProbe {
  /** Envoy's readiness, or undefined when this processor does not know of an Envoy. */
  check(): Promise<{ state: 'live' | 'unreachable' | 'not_ready'; detail?: string } | undefined>;
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
  };
}

export interface HealthDeps {
  envoy?: EnvoyProbe;
  metrics: GatewayMetrics;
  providers: () => Record<string, { healthy: boolean; type: string }>;
  startedAt: number;
}

export function registerHealthRoutes(router: AdminRouter, deps: HealthDeps): void {
  router.add('GET', '/health', async () => {
    const envoy = deps.envoy ? await deps.envoy.check() : undefined;
    const ok = !envoy || envoy.state === 'live';
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'healthy' : 'unhealthy',
        timestamp: new Date().toISOString(),
        uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
        processor: { status: 'healthy' },
        envoy: envoy ?? { state: 'external' },
        providers: deps.providers(),
      },
    };
  });
  router.add('GET', '/metrics', async () => ({
    status: 200,
    raw: await deps.metrics.registry.metrics(),
    headers: { 'content-type': deps.metrics.registry.contentType },
    body: undefined,
  }));
}
