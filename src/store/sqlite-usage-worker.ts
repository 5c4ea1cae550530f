import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { USAGE_INSERT } from './sqlite';

/** The usage writer thread (sqlite-usage-thread.ts): one connection, one transaction per batch. */
const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new Database(file, { timeout: busyTimeoutMs });
db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
db.pragma('synchronous = NORMAL');
const insert = db.prepare(USAGE_INSERT);
const insertAll = db.transaction((rows: unknown[][]) => {
  let inserted = 0;
  for (const row of rows) inserted += insert.run(...row).changes;
  return inserted;
});

parentPort!.on('message', (m: { id: number; rows: unknown[][] }) => {
  try {
    parentPort!.postMessage({ id: m.id, inserted: insertAll(m.rows) });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error).message });
  }
});
