import { useEffect, useState } from 'preact/hooks';
import { get, query } from '../api';
import { ErrorMessage } from '../components/Message';
import { Pager, useCursorPages } from '../components/Pager';
import { dayAfter, when } from '../format';
import type { Page, PageProps } from '../types';

const PAGE_SIZE = 25;

interface AuditRecord {
  id: string;
  time: string;
  action: string;
  outcome: string;
  target: string | null;
  actor: { key_id: string | null; identity: string | null; team: string | null };
  request_id: string | null;
  details: Record<string, unknown>;
}

interface Filter {
  action: string;
  team: string;
  request_id: string;
  from: string;
  to: string;
}

const EMPTY: Filter = { action: '', team: '', request_id: '', from: '', to: '' };

/** The audit log (GET /v1/audit), newest first, filtered and paged by the gateway. */
export function AuditPage(_: PageProps) {
  const pages = useCursorPages();
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [applied, setApplied] = useState<Filter>(EMPTY);
  const [records, setRecords] = useState<Page<AuditRecord> | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setError(null);
    const q = query({
      action: applied.action,
      team: applied.team,
      request_id: applied.request_id,
      start: applied.from ? `${applied.from}T00:00:00Z` : '',
      end: dayAfter(applied.to),
      limit: PAGE_SIZE,
      before: pages.cursor,
    });
    get<Page<AuditRecord>>(`/v1/audit${q}`).then(setRecords, setError);
  }, [applied, pages.cursor]);

  const field = (name: keyof Filter) => (e: Event) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
  return (
    <section>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          pages.reset();
          setApplied({ ...filter });
        }}
      >
        <label>
          Action <input name="action" value={filter.action} onInput={field('action')} placeholder="key.revoked" />
        </label>
        <label>
          Team <input name="team" value={filter.team} onInput={field('team')} />
        </label>
        <label>
          Request id <input name="request_id" value={filter.request_id} onInput={field('request_id')} />
        </label>
        <label>
          From <input type="date" name="from" value={filter.from} onInput={field('from')} />
        </label>
        <label>
          To (inclusive) <input type="date" name="to" value={filter.to} onInput={field('to')} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorMessage error={error} />
      {/* The gateway holds a team admin to its team (data isolation): a team filter cannot widen it. */}
      {(records as { scope?: string } | null)?.scope === 'team' && (
        <p class="help" data-testid="audit-scope">
          Your team's records only.
        </p>
      )}
      {records && records.data.length === 0 && <p class="empty">No audit records.</p>}
      {records && records.data.length > 0 && (
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Outcome</th>
              <th scope="col">Target</th>
              <th scope="col">Actor</th>
              <th scope="col">Request id</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {records.data.map((r) => (
              <tr key={r.id} data-audit-id={r.id}>
                <td>{when(r.time)}</td>
                <th scope="row">{r.action}</th>
                <td class={`outcome-${r.outcome}`}>{r.outcome}</td>
                <td>{r.target ?? '—'}</td>
                <td>
                  {r.actor.identity ?? r.actor.key_id ?? '—'}
                  {r.actor.team ? ` (${r.actor.team})` : ''}
                </td>
                <td>
                  <code>{r.request_id ?? '—'}</code>
                </td>
                <td>
                  <code class="details">{JSON.stringify(r.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {records && (
        <Pager label="Audit" page={pages.page} hasMore={!!records.has_more} onPrevious={pages.previous} onNext={() => records.next_cursor && pages.next(records.next_cursor)} />
      )}
    </section>
  );
}
