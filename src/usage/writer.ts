import type { Logger } from '../observability/logger';
import { BatchWriter, type BatchWriterEvents, type BatchWriterOptions } from '../store/batch-writer';
import type { UsageRecord, UsageStore } from '../store/types';

export type UsageWriterOptions = BatchWriterOptions;
export type UsageWriterEvents = BatchWriterEvents;

/**
 * Writes usage records to the store in batches, off the request path (see BatchWriter): a slow
 * or failing database never delays a request. insertBatch is idempotent on the request id, so a
 * retried batch stores each record once.
 */
export class UsageWriter extends BatchWriter<UsageRecord> {
  constructor(store: UsageStore, opts: UsageWriterOptions, events: UsageWriterEvents, log: Logger) {
    super('usage', (batch) => store.insertBatch(batch), opts, events, log);
  }
}
