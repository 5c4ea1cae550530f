import type { UsageRow } from './types';

/** The overview's ranges; each is charted in hours up to 7 days (168 points), in days beyond. */
export const RANGES = {
  '24h': { label: '24 hours', hours: 24 },
  '7d': { label: '7 days', hours: 7 * 24 },
  '30d': { label: '30 days', hours: 30 * 24 },
} as const;
export type RangeName = keyof typeof RANGES;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Up to this many hours a range is charted per hour (GET /v1/usage?group_by=hour). */
const HOURLY_UP_TO = 7 * 24;

export interface Buckets {
  groupBy: 'hour' | 'day';
  /** The first bucket's start, as the report's `start`. */
  start: string;
  /** Each bucket's start, epoch seconds (uPlot's x). */
  times: number[];
  /** The rows' values placed on their buckets, zero where the report has none. */
  at(rows: UsageRow[], pick: (r: UsageRow) => number): number[];
}

/** The report's group for a bucket starting at `ms`: `YYYY-MM-DDTHH:00:00Z` or `YYYY-MM-DD` (UTC). */
const groupOf = (ms: number, groupBy: 'hour' | 'day') => (groupBy === 'hour' ? `${new Date(ms).toISOString().slice(0, 13)}:00:00Z` : new Date(ms).toISOString().slice(0, 10));

/** The buckets of a range ending now: whole UTC hours or days, the current one last. */
export function bucketsOf(range: RangeName, now = Date.now()): Buckets {
  const hours = RANGES[range].hours;
  const groupBy = hours <= HOURLY_UP_TO ? 'hour' : 'day';
  const step = groupBy === 'hour' ? HOUR_MS : DAY_MS;
  const count = groupBy === 'hour' ? hours : hours / 24;
  const first = Math.floor(now / step) * step - (count - 1) * step;
  const starts = Array.from({ length: count }, (_, i) => first + i * step);
  const groups = starts.map((ms) => groupOf(ms, groupBy));
  return {
    groupBy,
    start: new Date(first).toISOString(),
    times: starts.map((ms) => ms / 1000),
    at: (rows, pick) => {
      const byGroup = new Map(rows.map((r) => [r.group, r]));
      return groups.map((g) => (byGroup.has(g) ? pick(byGroup.get(g)!) : 0));
    },
  };
}
