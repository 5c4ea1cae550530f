import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterHandle, HistogramHandle, MetricsApi } from '../plugins/api';

const PROCESS_PREFIX = 'gateway_process_';
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Gateway-wide Prometheus metrics. Labels are bounded: provider and model come from
 * configuration or the provider's answer, never key or user ids.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'LLM requests handled, by provider, model, endpoint and HTTP status',
    labelNames: ['provider', 'model', 'endpoint', 'status'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request headers to the end of the response, as seen by the processor',
    labelNames: ['provider', 'model', 'endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  readonly timeToFirstByte = new Histogram({
    name: 'gateway_time_to_first_byte_seconds',
    help: 'Time from request headers to the first response body byte from the provider',
    labelNames: ['provider', 'model'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'gateway_tokens_total',
    help: 'Tokens reported by providers, by kind (prompt, completion, cached, reasoning)',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  readonly pluginErrors = new Counter({
    name: 'gateway_plugin_errors_total',
    help: 'Plugin hook failures and timeouts, by plugin, hook and policy applied',
    labelNames: ['plugin', 'hook', 'policy'] as const,
    registers: [this.registry],
  });

  readonly extprocStreams = new Counter({
    name: 'gateway_extproc_streams_total',
    help: 'ext_proc streams opened by Envoy, by how they ended',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly cost = new Counter({
    name: 'gateway_cost_usd_total',
    help: 'Cost of provider usage in US dollars, by provider and model, from configured prices',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });

  readonly usageRecords = new Counter({
    name: 'gateway_usage_records_total',
    help: 'Usage records by what happened to them: queued, written, retried, dropped',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly usageQueueDepth = new Gauge({
    name: 'gateway_usage_queue_depth',
    help: 'Usage records waiting to be written to the store',
    registers: [this.registry],
  });

  readonly authOperations = new Counter({
    name: 'auth_operations_total',
    help: 'Authentication and key management operations, by operation and result',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });

  /** Lets plugins add metrics to the same registry; asking twice for a name returns the same metric. */
  readonly api: MetricsApi = {
    counter: (name, help, labelNames): CounterHandle => {
      const existing = this.registry.getSingleMetric(name);
      const c = (existing as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
      return { inc: (labels, v = 1) => c.inc(labels, v) };
    },
    histogram: (name, help, labelNames, buckets): HistogramHandle => {
      const existing = this.registry.getSingleMetric(name);
      const h = (existing as Histogram<string> | undefined) ?? new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
      return { observe: (labels, v) => h.observe(labels, v) };
    },
  };

  private readonly seenModels = new Set<string>();

  /**
   * Model names partly come from clients (`provider/anything`), so the label set is capped:
   * past `maxModels` distinct names, new ones are counted as `other`.
   */
  modelLabel(model: string | undefined, maxModels = 500): string {
    if (!model) return 'none';
    if (this.seenModels.has(model)) return model;
    if (this.seenModels.size >= maxModels) return 'other';
    this.seenModels.add(model);
    return model;
  }

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: PROCESS_PREFIX });
      // prom-client's `*_total` gauges break the naming rules (promtool rejects them): each
      // total is the sum of the per-type gauge kept beside it (`nodejs_active_handles{type}`).
      for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(PROCESS_PREFIX + name);
    }
  }
}
