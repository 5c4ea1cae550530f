import type { KeyListFilter } from './types';

/** Most keys one page may ask for; the API allows fewer (src/admin/keys-api.ts). */
const MAX_PAGE = 100_000;

/**
 * The WHERE / ORDER BY / LIMIT of a key listing, with `?` placeholders (the caller renumbers them
 * for its dialect). Newest first, ties by id in byte order (`collate`: PostgreSQL's `COLLATE "C"`,
 * nothing for SQLite); `after` is keyset paging in that order, so a page is read from the index,
 * never the whole table, and keys created meanwhile do not shift the pages after them.
 */
export function keyListQuery(filter: KeyListFilter, collate = ''): { sql: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (filter.team !== undefined && filter.team !== null) {
    conds.push('team = ?');
    params.push(filter.team);
  }
  if (filter.after) {
    conds.push(`(created_at < ? OR (created_at = ? AND id${collate} > ?))`);
    params.push(filter.after.createdAt, filter.after.createdAt, filter.after.id);
  }
  let sql = `${conds.length ? `WHERE ${conds.join(' AND ')} ` : ''}ORDER BY created_at DESC, id${collate}`;
  if (filter.limit !== undefined && filter.limit !== null) {
    sql += ' LIMIT ?';
    params.push(Math.max(0, Math.min(MAX_PAGE, Math.floor(Number(filter.limit) || 0))));
  }
  return { sql, params };
}
