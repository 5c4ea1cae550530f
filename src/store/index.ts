/**
 * openStore(): the gateway's persistent store, PostgreSQL when a postgres:// URL is given (shared
 * by replicas), else an SQLite file at `<dataDir>/gateway.db`. Migrated before it is returned.
 *
 * The two drivers are loaded on demand, so a PostgreSQL deployment never loads better-sqlite3's
 * native module and an SQLite one never loads pg.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Store } from './types';

export * from './types';

export interface OpenStoreOptions {
  /** `postgres://…` or `postgresql://…` (DATABASE_URL); empty or unset for SQLite. */
  databaseUrl?: string;
  /** Folder of the SQLite file; created when missing. */
  dataDir: string;
  log?: Logger;
}

/** The SQLite file name inside dataDir. */
export const SQLITE_FILE_NAME = 'gateway.db';

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url.trim());
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const url = opts.databaseUrl?.trim();
  let store: Store;
  if (url) {
    // A URL that is set but not PostgreSQL is a mistake (mysql://, a typo): refuse it rather
    // than silently keep the data in a local file that other replicas never see.
    if (!isPostgresUrl(url)) {
      throw new Error('database URL must start with postgres:// or postgresql:// (leave it unset for the SQLite file)');
    }
    const { PostgresStore, redactUrl } = await import('./postgres');
    store = new PostgresStore(url, { log: opts.log });
    opts.log?.info({ store: 'postgres', url: redactUrl(url) }, 'store: PostgreSQL');
  } else {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const file = path.join(opts.dataDir, SQLITE_FILE_NAME);
    const { SqliteStore } = await import('./sqlite');
    store = new SqliteStore(file, { log: opts.log });
    opts.log?.info({ store: 'sqlite', file }, 'store: SQLite');
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
