import { useEffect, useState } from 'preact/hooks';
import { get, query } from '../api';
import { Chart } from '../components/Chart';
import { ErrorMessage } from '../components/Message';
import { UsageTable } from '../components/UsageTable';
import { dayInput, int, usd } from '../format';
import type { PageProps, UsageReport, UsageRow } from '../types';

const DAYS = 30;
/** The busiest providers and models charted one line each. */
const TOP = 5;
const COLORS = ['#2563eb', '#7c3aed', '#059669', '#d97706', '#db2777'];

interface Summary {
  total_requests: number;
  average_response_ms: number;
  last_updated: string | null;
}

/** Every day of the range (epoch seconds), with the report's rows placed on their day and zero elsewhere. */
function perDay(rows: UsageRow[], first: string): { days: number[]; at: (pick: (r: UsageRow) => number) => number[] } {
  const start = Date.parse(`${first}T00:00:00Z`);
  const days = Array.from({ length: DAYS }, (_, i) => (start + i * 86_400_000) / 1000);
  const byDay = new Map(rows.map((r) => [r.group, r]));
  const keys = days.map((d) => new Date(d * 1000).toISOString().slice(0, 10));
  return { days, at: (pick) => keys.map((k) => (byDay.has(k) ? pick(byDay.get(k)!) : 0)) };
}

/** The last 30 days: totals, charts per day, and the split by provider and by model (GET /v1/usage). */
/** For the busiest groups of a report, their report per day (the gateway filters by provider or model). */
async function dailyOf(kind: 'provider' | 'model', report: UsageReport, start: string): Promise<{ name: string; rows: UsageRow[] }[]> {
  const top = [...report.data].filter((r) => r.group !== null).sort((a, b) => b.requests - a.requests).slice(0, TOP);
  return Promise.all(top.map(async (r) => ({ name: r.group!, rows: (await get<UsageReport>(`/v1/usage${query({ start, group_by: 'day', [kind]: r.group })}`)).data })));
}

interface Data {
  daily: UsageReport;
  providers: UsageReport;
  models: UsageReport;
  byProvider: { name: string; rows: UsageRow[] }[];
  byModel: { name: string; rows: UsageRow[] }[];
  summary: Summary;
  first: string;
}

export function OverviewPage(_: PageProps) {
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const first = dayInput(-(DAYS - 1));
    const range = { start: first };
    Promise.all([
      get<UsageReport>(`/v1/usage${query({ ...range, group_by: 'day' })}`),
      get<UsageReport>(`/v1/usage${query({ ...range, group_by: 'provider' })}`),
      get<UsageReport>(`/v1/usage${query({ ...range, group_by: 'model' })}`),
      get<Summary>('/v1/metrics/summary'),
    ])
      .then(async ([daily, providers, models, summary]) => {
        const [byProvider, byModel] = await Promise.all([dailyOf('provider', providers, first), dailyOf('model', models, first)]);
        setData({ daily, providers, models, byProvider, byModel, summary, first });
      })
      .catch(setError);
  }, []);
  if (error) return <ErrorMessage error={error} />;
  if (!data) return <p class="loading">Loading…</p>;
  const total = (pick: (r: UsageRow) => number) => data.daily.data.reduce((s, r) => s + pick(r), 0);
  const { days, at } = perDay(data.daily.data, data.first);
  const lines = (groups: Data['byProvider'], pick: (r: UsageRow) => number) =>
    groups.map((g, i) => ({ label: g.name, values: perDay(g.rows, data.first).at(pick), color: COLORS[i % COLORS.length] }));
  return (
    <section aria-label="Last 30 days">
      <dl class="cards">
        <div>
          <dt>Requests (30 days)</dt>
          <dd data-testid="total-requests">{int(total((r) => r.requests))}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd data-testid="total-errors">{int(total((r) => r.errors ?? 0))}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd data-testid="total-tokens">{int(total((r) => r.total_tokens))}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd data-testid="total-cost">{usd(total((r) => r.cost_usd))}</dd>
        </div>
        <div>
          <dt>Mean response time</dt>
          <dd>{int(Math.round(data.summary.average_response_ms))} ms</dd>
        </div>
      </dl>
      <div class="charts">
        <Chart
          title="Requests and errors per day"
          days={days}
          series={[
            { label: 'Requests', values: at((r) => r.requests), color: '#2563eb' },
            { label: 'Errors', values: at((r) => r.errors ?? 0), color: '#dc2626' },
          ]}
        />
        <Chart title="Tokens per day" days={days} series={[{ label: 'Tokens', values: at((r) => r.total_tokens), color: '#7c3aed' }]} />
        <Chart title="Cost per day (USD)" days={days} format={usd} series={[{ label: 'Cost', values: at((r) => r.cost_usd), color: '#059669' }]} />
        {data.byProvider.length > 0 && <Chart title="Requests per day by provider" days={days} series={lines(data.byProvider, (r) => r.requests)} />}
        {data.byModel.length > 0 && <Chart title="Cost per day by model (USD)" days={days} format={usd} series={lines(data.byModel, (r) => r.cost_usd)} />}
      </div>
      <h2>By provider</h2>
      <UsageTable rows={data.providers.data} groupLabel="Provider" />
      <h2>By model</h2>
      <UsageTable rows={data.models.data} groupLabel="Model" />
    </section>
  );
}
