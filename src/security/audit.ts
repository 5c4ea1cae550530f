import crypto from 'node:crypto';
import type { Logger } from '../observability/logger';
import type { MetricsApi } from '../plugins/api';
import type { AuditEvent, SecuritySettings } from '../domain';
import { BatchWriter, type BatchWriterOptions } from '../store/batch-writer';
import type { AuditQuery, AuditRecord, AuditStore } from '../store/types';

/** Who did something, as the admin API knows the caller. */
export interface AuditActor {
  keyId?: string | null;
  identity?: string | null;
  team?: string | null;
}

const DEFAULTS: BatchWriterOptions = { maxQueue: 10000, batchSize: 200, flushIntervalMs: 100, maxBackoffMs: 5000 };

/** Audit detail values are kept short: they describe what changed, never carry content. */
const MAX_DETAIL_CHARS = 4096;

/**
 * The audit log: append-only records in the store, written in batches off the request path
 * (the same BatchWriter as usage records), so an admin call or a blocked request never waits
 * for the database. `record` honours `audit_logging_enabled` at the moment of the event;
 * `recordAlways` is for the few events that must be kept even then (turning auditing off).
 */
export class AuditService {
  private readonly writer: BatchWriter<AuditRecord>;

  constructor(
    private readonly store: AuditStore,
    private readonly settings: { current(): SecuritySettings },
    metrics: MetricsApi,
    log: Logger,
    opts: Partial<BatchWriterOptions> = {},
  ) {
    const records = metrics.counter('gateway_audit_records_total', 'Audit records, by result (queued, written, retried, dropped)', ['result']);
    this.writer = new BatchWriter<AuditRecord>(
      'audit',
      (batch) => store.append(batch),
      { ...DEFAULTS, ...opts },
      {
        queued: (n) => records.inc({ result: 'queued' }, n),
        written: (n) => records.inc({ result: 'written' }, n),
        retried: (n) => records.inc({ result: 'retried' }, n),
        dropped: (n) => records.inc({ result: 'dropped' }, n),
        depth: () => undefined,
      },
      log,
    );
  }

  /** Queues a record when audit logging is on; never blocks, never throws. */
  record(e: AuditEvent): void {
    if (this.settings.current().audit_logging_enabled) this.recordAlways(e);
  }

  /** Queues a record whatever `audit_logging_enabled` says. */
  recordAlways(e: AuditEvent): void {
    this.writer.enqueue(toRecord(e));
  }

  query(q: AuditQuery): Promise<AuditRecord[]> {
    return this.store.query(q);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<number> {
    return this.writer.close();
  }
}

let sequence = 0;

/**
 * `aud_` + time (ms) + a per-process counter + randomness, in hex: unique across replicas, and
 * ordered by creation within one, so records of the same millisecond list in the order they
 * happened (the store sorts ties by id).
 */
function auditId(time: number): string {
  sequence = (sequence + 1) % 0x10000;
  return `aud_${time.toString(16).padStart(12, '0')}${sequence.toString(16).padStart(4, '0')}${crypto.randomBytes(8).toString('hex')}`;
}

function toRecord(e: AuditEvent): AuditRecord {
  let details: Record<string, unknown> = e.details ?? {};
  const text = JSON.stringify(details);
  if (text.length > MAX_DETAIL_CHARS) details = { truncated: true, size: text.length };
  const time = Date.now();
  return {
    id: auditId(time),
    time,
    actorKeyId: e.actor?.keyId ?? null,
    actorIdentity: e.actor?.identity ?? null,
    actorTeam: e.actor?.team ?? null,
    action: e.action,
    target: e.target ?? null,
    outcome: e.outcome,
    requestId: e.requestId ?? null,
    details,
  };
}

/** An AuditRecord as the API returns it. */
export function auditJson(r: AuditRecord): Record<string, unknown> {
  return {
    object: 'audit.record',
    id: r.id,
    time: new Date(r.time).toISOString(),
    action: r.action,
    outcome: r.outcome,
    target: r.target,
    actor: { key_id: r.actorKeyId, identity: r.actorIdentity, team: r.actorTeam },
    request_id: r.requestId,
    details: r.details,
  };
}
