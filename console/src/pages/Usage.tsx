import { useEffect, useState } from 'preact/hooks';
import { get, getText, query } from '../api';
import { ErrorMessage } from '../components/Message';
import { UsageTable } from '../components/UsageTable';
import { dayAfter, dayInput } from '../format';
import type { PageProps, UsageReport } from '../types';

const GROUPS = ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day'] as const;

interface Filter {
  from: string;
  to: string;
  groupBy: string;
}

/** The report's query: the `to` day is included (its end is the next day's start). */
const reportQuery = (f: Filter, extra: Record<string, string> = {}) =>
  query({ start: f.from ? `${f.from}T00:00:00Z` : '', end: dayAfter(f.to), group_by: f.groupBy, ...extra });

/** Usage over a date range, grouped as chosen (GET /v1/usage); the same report as CSV, made by the gateway. */
export function UsagePage(_: PageProps) {
  const [filter, setFilter] = useState<Filter>({ from: dayInput(-6), to: dayInput(0), groupBy: 'key' });
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [csv, setCsv] = useState<{ url: string; name: string } | null>(null);

  const load = (f: Filter) => {
    setError(null);
    get<UsageReport>(`/v1/usage${reportQuery(f)}`).then(setReport, setError);
  };
  useEffect(() => load(filter), []);
  useEffect(() => () => csv && URL.revokeObjectURL(csv.url), [csv]);

  const exportCsv = async () => {
    setError(null);
    try {
      const text = await getText(`/v1/usage${reportQuery(filter, { format: 'csv' })}`);
      setCsv({ url: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), name: `usage-${filter.groupBy}-${filter.from}-${filter.to}.csv` });
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
          setCsv(null);
          load(filter);
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
        {csv && (
          <a class="download" href={csv.url} download={csv.name}>
            Download {csv.name}
          </a>
        )}
      </form>
      <ErrorMessage error={error} />
      {report && (
        <>
          <p class="help">Scope: {report.scope === 'all' ? 'every team' : report.scope}</p>
          <UsageTable rows={report.data} groupLabel={report.group_by ?? 'all'} />
        </>
      )}
    </section>
  );
}
