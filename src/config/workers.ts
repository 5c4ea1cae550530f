import os from 'node:os';
import type { GatewayConfig } from './types';

/**
 * How many processor workers the configuration sets. `auto` counts as one until `start`, with
 * the Envoy it manages, resolves it for its machine (resolveWorkers): a bootstrap written for an
 * Envoy elsewhere (`envoy-config`, `--no-envoy`) must not depend on the machine that wrote it.
 */
export function workerCount(config: GatewayConfig): number {
  const w = config.processor.workers;
  return w === 'auto' ? 1 : w;
}

/** `start` with a managed Envoy: `auto` becomes autoWorkers for this machine; otherwise one. */
export function resolveWorkers(config: GatewayConfig, cpus = os.availableParallelism()): void {
  if (config.processor.workers === 'auto') config.processor.workers = config.envoy.manage ? autoWorkers(cpus, config.envoy.concurrency) : 1;
}

/**
 * `processor.workers: auto`: the cores Envoy's threads leave, at most one per Envoy thread (each
 * of Envoy's connections to the workers' port goes to one worker, so more would sit idle), and
 * at least one. On 2 cores beside Envoy's 2 threads that is 1: there the machine, not the
 * processor, is the limit (npm run bench measured 2 workers at +12% throughput for +110 MiB).
 */
export function autoWorkers(cpus: number, envoyThreads: number): number {
  return Math.max(1, Math.min(cpus - envoyThreads, envoyThreads));
}
