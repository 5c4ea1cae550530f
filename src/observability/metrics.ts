import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
  }
}
