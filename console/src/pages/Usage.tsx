import { useEffect, useState } from 'preact/hooks';
import { get, getText, query } from '../api';
import { ErrorMessage, Notice } from '../components/Message';
import { Pager, useCursorPages } from '../components/Pager';
import { UsageTable } from '../components/UsageTable';
import { dayAfter, dayInput } from '../format';
import type { PageProps, UsageReport } from '../types';

const GROUPS = ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour'] as const;
/** Groups a page: the gateway pages them (`limit`, `offset`), however many keys or users there are. */
export const USAGE_PAGE_SIZE = 50;

interface Filter {
  from: string;
  to: string;
  groupBy: string;
}

/** The report's query: the `to` day is included (its end is the next day's start). */
const reportQuery = (f: Filter, extra: Record<string, string> = {}) =>
  query({ start: f.from ? `${f.from}T00:00:00Z` : '', end: dayAfter(f.to), group_by: f.groupBy, ...extra });

/** Saves a blob as a file: a link to it, clicked once and removed (no navigation, nothing inline). */
function saveFile(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // After the click the browser holds the download; the URL can go once it has started.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Usage over a date range, grouped as chosen (GET /v1/usage); the same report as CSV, made by the gateway. */
export function UsagePage(_: PageProps) {
  const [filter, setFilter] = useState<Filter>({ from: dayInput(-6), to: dayInput(0), groupBy: 'key' });
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  // The filter the shown report was asked with: pages follow it, not fields edited since.
  const [shown, setShown] = useState<Filter>(filter);
  const pages = useCursorPages();

  // The page shown: the filter last asked for, from the offset the pager is at.
  useEffect(() => {
    setError(null);
    get<UsageReport>(`/v1/usage${reportQuery(shown, { limit: String(USAGE_PAGE_SIZE), offset: pages.cursor ?? '0' })}`).then(setReport, setError);
  }, [shown, pages.cursor]);

  /**
   * One click: the gateway makes the CSV (fetched like every call, with the console header, so the
   * cookie counts only for the page's own scripts), and the page saves it from a blob: URL.
   */
  const exportCsv = async () => {
    setError(null);
    setSaved(null);
    try {
      const text = await getText(`/v1/usage${reportQuery(filter, { format: 'csv' })}`);
      const name = `usage-${filter.groupBy}-${filter.from}-${filter.to}.csv`;
      saveFile(new Blob([text], { type: 'text/csv' }), name);
      setSaved(`Saved ${name}.`);
    } catch (err) {
      setError(err);
    }
  };
  const field = (name: keyof Filter) => (e: Event) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });

  return (
    <section>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(null);
          pages.reset();
          setShown({ ...filter });
        }}
      >
        <label>
          From <input type="date" name="from" value={filter.from} onInput={field('from')} />
        </label>
        <label>
          To (inclusive) <input type="date" name="to" value={filter.to} onInput={field('to')} />
        </label>
        <label>
          Group by
          <select name="group_by" value={filter.groupBy} onChange={field('groupBy')}>
            {GROUPS.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
        <button type="button" class="secondary" onClick={exportCsv}>
          Export CSV
        </button>
      </form>
      <ErrorMessage error={error} />
      <Notice text={saved} />
      {report && (
        <>
          <p class="help">Scope: {report.scope === 'all' ? 'every team' : report.scope}</p>
          <UsageTable rows={report.data} groupLabel={report.group_by ?? 'all'} />
          <Pager label="Usage" page={pages.page} hasMore={!!report.has_more} onPrevious={pages.previous} onNext={() => report.next_offset != null && pages.next(String(report.next_offset))} />
          <p class="help">Export CSV saves the whole report (every group, not only this page).</p>
        </>
      )}
    </section>
  );
}
