import type { GatewayConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import { startProcessor } from '../processor';
import { isToWorker, type FromWorker, type ToWorker } from './messages';

/**
 * A processor worker: serves ext_proc on processor.ext_proc_port and nothing else. The primary
 * drives it over IPC: refresh after admin changes, metrics for /metrics, and shutdown (a
 * Ctrl-C reaches every process of the group; only the primary acts on it).
 */
/** How long a worker waits for a connection to have no request awaiting per-attempt streams. */
const MOVE_TIMEOUT_MS = 30_000;

export async function runWorker(config: GatewayConfig, log: Logger): Promise<void> {
  const send = (m: FromWorker) => process.send?.(m);
  const processor = await startProcessor(config, log, { role: 'worker' });
  const handle = async (m: ToWorker): Promise<FromWorker> => {
    switch (m.type) {
      case 'refresh':
        await processor.refresh();
        return { type: 'reply', id: m.id };
      case 'metrics':
        return { type: 'reply', id: m.id, metrics: await processor.metrics.registry.getMetricsAsJSON() };
      case 'interrupt':
        await processor.interrupt();
        return { type: 'reply', id: m.id };
      case 'move-connections':
        return { type: 'reply', id: m.id, moved: await processor.moveConnections(MOVE_TIMEOUT_MS) };
      case 'close':
        await processor.close(m.graceMs);
        return { type: 'reply', id: m.id };
    }
  };
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    handle(m)
      .catch((err: Error) => ({ type: 'reply' as const, id: m.id, error: err.message }))
      .then((reply) => {
        send(reply);
        if (m.type === 'close') setTimeout(() => process.exit(0), 20).unref();
      });
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  // The primary went away without closing us: nothing will drive this process any more.
  process.on('disconnect', () => {
    log.error('processor worker lost its primary; exiting');
    void processor.close(0).finally(() => process.exit(1));
  });
  send({ type: 'ready' });
}
