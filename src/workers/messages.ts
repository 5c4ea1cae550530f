import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/**
 * What the primary and its processor workers say to each other over the cluster IPC channel.
 * Every request carries an id; each worker answers it once.
 */
export type ToWorker =
  | { type: 'refresh'; id: number }
  | { type: 'metrics'; id: number }
  | { type: 'interrupt'; id: number }
  | { type: 'move-connections'; id: number }
  | { type: 'close'; id: number; graceMs: number };

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type FromWorker = { type: 'ready' } | { type: 'reply'; id: number; metrics?: WorkerMetrics; moved?: number; error?: string };

export function isToWorker(m: unknown): m is ToWorker {
  const t = (m as { type?: unknown } | null)?.type;
  return typeof (m as { id?: unknown }).id === 'number' && (t === 'refresh' || t === 'metrics' || t === 'interrupt' || t === 'move-connections' || t === 'close');
}

export function isFromWorker(m: unknown): m is FromWorker {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'ready' || (t === 'reply' && typeof (m as { id?: unknown }).id === 'number');
}
