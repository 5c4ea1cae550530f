import { bucketsOf } from '../../console/src/buckets';

/** The overview's time buckets: hours up to 7 days, days beyond, the current one last, gaps as 0. */

const NOW = Date.UTC(2026, 10, 30, 14, 25, 7);
const row = (group: string, requests: number) => ({ group, requests, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0 }) as any;

describe('overview buckets', () => {
  test('24 hours: 24 UTC hours, this hour last, from the start of the first', () => {
    const b = bucketsOf('24h', NOW);
    expect(b.groupBy).toBe('hour');
    expect(b.times).toHaveLength(24);
    expect(b.start).toBe('2026-11-29T15:00:00.000Z');
    expect(new Date(b.times[23] * 1000).toISOString()).toBe('2026-11-30T14:00:00.000Z');
    // The report's hours land on their bucket; an hour without records is 0; one outside the range is ignored.
    const values = b.at([row('2026-11-29T15:00:00Z', 2), row('2026-11-30T14:00:00Z', 5), row('2026-11-29T14:00:00Z', 9)], (r) => r.requests);
    expect(values[0]).toBe(2);
    expect(values[23]).toBe(5);
    expect(values.reduce((a, v) => a + v, 0)).toBe(7);
  });

  test('7 days: 168 hours; 30 days: 30 days, today last', () => {
    const week = bucketsOf('7d', NOW);
    expect([week.groupBy, week.times.length, week.start]).toEqual(['hour', 168, '2026-11-23T15:00:00.000Z']);
    const month = bucketsOf('30d', NOW);
    expect([month.groupBy, month.times.length, month.start]).toEqual(['day', 30, '2026-11-01T00:00:00.000Z']);
    const values = month.at([row('2026-11-01', 1), row('2026-11-30', 3), row('2026-11-30T14:00:00Z', 8)], (r) => r.requests);
    expect([values[0], values[29], values.reduce((a, v) => a + v, 0)]).toEqual([1, 3, 4]);
  });
});
