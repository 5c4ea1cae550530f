import { errorBody } from '../domain/errors';
import type { SecuritySettings } from '../domain';
import type { UsageGroupBy, UsageRow, UsageStore } from '../store/types';
import { toCsv } from './csv';
import type { AdminCaller, Authenticate } from './auth';
import { ISOLATION_OFF, usageScope, type Scope } from './isolation';
import type { AdminRequest, AdminResponse, AdminRouter } from './router';

const GROUPS: readonly UsageGroupBy[] = ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour'];

class BadParam extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** ISO 8601 dates (`2026-11-01`, `2026-11-01T12:00:00Z`) or epoch seconds / milliseconds. */
export function parseTime(value: string | null, param: string): number | undefined {
  if (value === null || value === '') return undefined;
  if (/^\d{1,15}$/.test(value)) {
    const n = Number(value);
    return n < 1e11 ? n * 1000 : n;
  }
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new BadParam(param, `'${param}' must be an ISO 8601 date or a Unix timestamp.`);
  return t;
}

const DAY_MS = 86_400_000;
/** A day (`2023-01-31`), or midnight of one (`2023-01-31T00:00:00`, .NET's DateTime of a date). */
const WHOLE_DAY = /^\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$/;

/**
 * The earlier .NET gateway's `endDate`: inclusive of that whole day, so a date (or midnight of
 * one, as a .NET DateTime of a date is sent) ends the range at the start of the next day (UTC);
 * any other date-time or timestamp is the exclusive end, as `end` is.
 */
export function parseEndDate(value: string | null, param: string): number | undefined {
  if (value !== null && WHOLE_DAY.test(value)) return Date.parse(`${value.slice(0, 10)}T00:00:00Z`) + DAY_MS;
  return parseTime(value, param);
}

export const bad = (e: BadParam): AdminResponse => ({ status: 400, body: errorBody(400, 'invalid_parameter', e.message, e.param) });

export { BadParam };

export const noScope = (what: string): AdminResponse => ({
  status: 403,
  body: errorBody(403, 'insufficient_permissions', `This caller has no team or key whose ${what} it may read.`),
});

/** A provider or model name to filter on: bounded, printable. */
function nameParam(value: string | null, param: string): string | undefined {
  if (value === null || value === '') return undefined;
  if (value.length > 256 || /[\0-\x1f\x7f]/.test(value)) throw new BadParam(param, `'${param}' must be a name of at most 256 printable characters.`);
  return value;
}

/** A page of a grouped report: `limit` 1..1000 groups from `offset` (the position of the page). */
const MAX_LIMIT = 1000;
const MAX_OFFSET = 1_000_000_000;
function intParam(value: string | null, param: string, min: number, max: number): number | undefined {
  if (value === null) return undefined;
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) throw new BadParam(param, `'${param}' must be an integer from ${min} to ${max}.`);
  return Number(value);
}

/** group_by=hour covers at most 31 days: 744 groups, each a point of a chart. */
const MAX_HOURS = 31 * 24;
const HOUR_MS = 3_600_000;
const tooManyHours = (): AdminResponse =>
  bad(new BadParam('group_by', `'group_by=hour' covers at most 31 days (${MAX_HOURS} hours): give 'start' and 'end' at most 31 days apart, or use group_by=day.`));

const CSV_COLUMNS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'total_tokens', 'cost_usd'];

/** The report as a CSV download: one line per group, the columns of the JSON report. */
function usageCsv(rows: UsageRow[], groupBy: string): AdminResponse {
  const lines = rows.map((r) => [r.group, r.requests, r.errors, r.promptTokens, r.completionTokens, r.cachedTokens, r.reasoningTokens, r.totalTokens, r.costUsd]);
  return {
    status: 200,
    body: undefined,
    raw: toCsv([groupBy, ...CSV_COLUMNS], lines),
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="usage-${groupBy}.csv"`, 'cache-control': 'no-store' },
  };
}

/** The usage filter of a scope: forced key or team, else what the caller asked for. */
function usageFilter(scope: Scope, req: AdminRequest): { keyId?: string; team?: string } {
  const asked = { keyId: req.query.get('key_id') ?? undefined, team: req.query.get('team') ?? undefined };
  if (scope.kind === 'all') return asked;
  // Within a team a caller may still narrow to one key; the team itself is never widened.
  if (scope.kind === 'team') return { keyId: asked.keyId, team: scope.team };
  return scope.kind === 'key' ? { keyId: scope.keyId } : {};
}

/**
 * GET /v1/usage (and its .NET alias GET /api/v1/admin/usage, admins only) and GET /v1/metrics/summary: what each caller sees follows usageScope()
 * (admins everything, a key holder its own key; its team with data isolation on).
 */
export function registerUsageRoutes(router: AdminRouter, usage: UsageStore, authenticate: Authenticate, settings: { current(): SecuritySettings } = ISOLATION_OFF): void {
  const scopeOf = (caller: AdminCaller) => usageScope(caller, settings.current().data_isolation_enabled);
  /** The report over the range the caller's parameters give (`start`/`end`, or the .NET names). */
  const report = async (req: AdminRequest, requireAdmin: boolean, names: { start: string; end: string }, parseEnd: typeof parseTime): Promise<AdminResponse> => {
    const caller = await authenticate(req, { requireAdmin });
    if ('status' in caller) return caller;
    const scope = scopeOf(caller);
    if (scope.kind === 'none') return noScope('usage');
    let start: number | undefined;
    let end: number | undefined;
    try {
      start = parseTime(req.query.get(names.start), names.start);
      end = parseEnd(req.query.get(names.end), names.end);
    } catch (e) {
      return bad(e as BadParam);
    }
    if (start !== undefined && end !== undefined && end < start) return bad(new BadParam(names.end, `'${names.end}' must not be before '${names.start}'.`));
    const groupBy = req.query.get('group_by') ?? undefined;
    if (groupBy !== undefined && !GROUPS.includes(groupBy as UsageGroupBy)) {
      return bad(new BadParam('group_by', `'group_by' must be one of ${GROUPS.join(', ')}.`));
    }
    let only: { provider?: string; model?: string };
    try {
      only = { provider: nameParam(req.query.get('provider'), 'provider'), model: nameParam(req.query.get('model'), 'model') };
    } catch (e) {
      return bad(e as BadParam);
    }
    const format = req.query.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') return bad(new BadParam('format', "'format' must be json or csv."));
    let limit: number | undefined;
    let offset: number | undefined;
    try {
      limit = intParam(req.query.get('limit'), 'limit', 1, MAX_LIMIT);
      offset = intParam(req.query.get('offset'), 'offset', 0, MAX_OFFSET);
    } catch (e) {
      return bad(e as BadParam);
    }
    if (limit !== undefined || offset !== undefined) {
      if (groupBy === undefined) return bad(new BadParam(limit !== undefined ? 'limit' : 'offset', 'Pages are for grouped reports: give group_by too.'));
      if (offset !== undefined && limit === undefined) return bad(new BadParam('offset', "'offset' needs 'limit'."));
      if (format === 'csv') return bad(new BadParam('limit', 'The CSV is always the whole report: leave out limit and offset.'));
    }
    if (groupBy === 'hour' && start !== undefined && end !== undefined && end - start > MAX_HOURS * HOUR_MS) return tooManyHours();
    // A narrowed view stays narrowed, whatever the caller asks for.
    const q = { start, end, groupBy: groupBy as UsageGroupBy | undefined, ...only, ...usageFilter(scope, req) };
    let rows: UsageRow[];
    if (groupBy === 'hour' && (start === undefined || end === undefined)) {
      // An open range: its hours are counted by reading one more than allowed, never all of them.
      const hours = await usage.query({ ...q, limit: MAX_HOURS + 1 });
      if (hours.length > MAX_HOURS) return tooManyHours();
      rows = limit === undefined ? hours : hours.slice(offset ?? 0, (offset ?? 0) + limit + 1);
    } else {
      // One group more than the page shows says whether there is a next page, without a count.
      rows = await usage.query(limit === undefined ? q : { ...q, limit: limit + 1, offset: offset ?? 0 });
    }
    if (format === 'csv') return usageCsv(rows, groupBy ?? 'all');
    const page = limit === undefined ? undefined : { has_more: rows.length > limit, next_offset: rows.length > limit ? (offset ?? 0) + limit : null };
    if (page) rows = rows.slice(0, limit);
    return {
      status: 200,
      body: {
        object: 'usage.report',
        start: start === undefined ? null : new Date(start).toISOString(),
        end: end === undefined ? null : new Date(end).toISOString(),
        group_by: groupBy ?? null,
        scope: scope.kind,
        data: rows.map((r) => ({
          group: r.group,
          requests: r.requests,
          errors: r.errors,
          prompt_tokens: r.promptTokens,
          completion_tokens: r.completionTokens,
          cached_tokens: r.cachedTokens,
          reasoning_tokens: r.reasoningTokens,
          total_tokens: r.totalTokens,
          cost_usd: r.costUsd,
        })),
        // Only a paged report (limit) has these, so an unpaged one reads as before.
        ...page,
      },
    };
  };
  router.add('GET', '/v1/usage', (req) => report(req, false, { start: 'start', end: 'end' }, parseTime));
  // The earlier .NET gateway's path, for its clients: the same report, for admins, over
  // `startDate`..`endDate` with `endDate` inclusive of its whole day (parseEndDate).
  router.add('GET', '/api/v1/admin/usage', (req) => report(req, true, { start: 'startDate', end: 'endDate' }, parseEndDate));

  router.add('GET', '/v1/metrics/summary', async (req) => {
    const caller = await authenticate(req, { requireAdmin: false });
    if ('status' in caller) return caller;
    const scope = scopeOf(caller);
    if (scope.kind === 'none') return noScope('usage');
    const s = await usage.summary(scope.kind === 'team' ? { team: scope.team } : scope.kind === 'key' ? { keyId: scope.keyId } : {});
    // The earlier Go gateway's names (total_requests, requests_by_provider, average_response_ms,
    // last_updated), which its dashboards and scripts read; average_response_time_ms is kept too.
    return {
      status: 200,
      body: {
        total_requests: s.totalRequests,
        requests_by_provider: s.requestsByProvider,
        average_response_ms: s.averageResponseMs,
        average_response_time_ms: s.averageResponseMs,
        last_updated: s.lastUpdated === null ? null : new Date(s.lastUpdated).toISOString(),
      },
    };
  });
}
