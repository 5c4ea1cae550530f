import { useEffect, useState } from 'preact/hooks';
import { get, query } from '../api';
import { bucketsOf, RANGES, type Buckets, type RangeName } from '../buckets';
import { Chart } from '../components/Chart';
import { ErrorMessage } from '../components/Message';
import { UsageTable } from '../components/UsageTable';
import { int, usd } from '../format';
import type { PageProps, UsageReport, UsageRow } from '../types';

/** The busiest providers and models charted one line each. */
const TOP = 5;
const COLORS = ['#2563eb', '#7c3aed', '#059669', '#d97706', '#db2777'];

interface Summary {
  total_requests: number;
  average_response_ms: number;
  last_updated: string | null;
}

/** For the busiest groups of a report, their report per bucket (the gateway filters by provider or model). */
async function perBucketOf(kind: 'provider' | 'model', report: UsageReport, b: Buckets): Promise<{ name: string; rows: UsageRow[] }[]> {
  const top = [...report.data].filter((r) => r.group !== null).sort((a, b) => b.requests - a.requests).slice(0, TOP);
  return Promise.all(top.map(async (r) => ({ name: r.group!, rows: (await get<UsageReport>(`/v1/usage${query({ start: b.start, group_by: b.groupBy, [kind]: r.group })}`)).data })));
}

interface Data {
  buckets: Buckets;
  overTime: UsageReport;
  providers: UsageReport;
  models: UsageReport;
  byProvider: { name: string; rows: UsageRow[] }[];
  byModel: { name: string; rows: UsageRow[] }[];
  summary: Summary;
}

/**
 * The last 24 hours, 7 days or 30 days: totals, charts over time (per hour up to 7 days, per day
 * beyond), and the split by provider and by model (GET /v1/usage).
 */
export function OverviewPage(_: PageProps) {
  const [range, setRange] = useState<RangeName>('7d');
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    setData(null);
    setError(null);
    const buckets = bucketsOf(range);
    const from = { start: buckets.start };
    Promise.all([
      get<UsageReport>(`/v1/usage${query({ ...from, group_by: buckets.groupBy })}`),
      get<UsageReport>(`/v1/usage${query({ ...from, group_by: 'provider' })}`),
      get<UsageReport>(`/v1/usage${query({ ...from, group_by: 'model' })}`),
      get<Summary>('/v1/metrics/summary'),
    ])
      .then(async ([overTime, providers, models, summary]) => {
        const [byProvider, byModel] = await Promise.all([perBucketOf('provider', providers, buckets), perBucketOf('model', models, buckets)]);
        if (current) setData({ buckets, overTime, providers, models, byProvider, byModel, summary });
      })
      .catch((err) => current && setError(err));
    // A later range's answer wins over an earlier one still on its way.
    return () => {
      current = false;
    };
  }, [range]);

  const picker = (
    <div class="ranges" role="group" aria-label="Range">
      {(Object.keys(RANGES) as RangeName[]).map((name) => (
        <button key={name} type="button" class="secondary" aria-pressed={name === range} data-range={name} onClick={() => setRange(name)}>
          {RANGES[name].label}
        </button>
      ))}
    </div>
  );
  if (error) return <section>{picker}<ErrorMessage error={error} /></section>;
  if (!data) return <section>{picker}<p class="loading">Loading…</p></section>;
  const b = data.buckets;
  const per = b.groupBy;
  const total = (pick: (r: UsageRow) => number) => data.overTime.data.reduce((s, r) => s + pick(r), 0);
  const at = (pick: (r: UsageRow) => number) => b.at(data.overTime.data, pick);
  const lines = (groups: Data['byProvider'], pick: (r: UsageRow) => number) => groups.map((g, i) => ({ label: g.name, values: b.at(g.rows, pick), color: COLORS[i % COLORS.length] }));
  const label = RANGES[range].label;
  return (
    <section aria-label={`Last ${label}`} data-group-by={per}>
      {picker}
      <dl class="cards">
        <div>
          <dt>Requests ({label})</dt>
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
          title={`Requests and errors per ${per}`}
          times={b.times}
          series={[
            { label: 'Requests', values: at((r) => r.requests), color: '#2563eb' },
            { label: 'Errors', values: at((r) => r.errors ?? 0), color: '#dc2626' },
          ]}
        />
        <Chart title={`Tokens per ${per}`} times={b.times} series={[{ label: 'Tokens', values: at((r) => r.total_tokens), color: '#7c3aed' }]} />
        <Chart title={`Cost per ${per} (USD)`} times={b.times} format={usd} series={[{ label: 'Cost', values: at((r) => r.cost_usd), color: '#059669' }]} />
        {data.byProvider.length > 0 && <Chart title={`Requests per ${per} by provider`} times={b.times} series={lines(data.byProvider, (r) => r.requests)} />}
        {data.byModel.length > 0 && <Chart title={`Cost per ${per} by model (USD)`} times={b.times} format={usd} series={lines(data.byModel, (r) => r.cost_usd)} />}
      </div>
      <h2>By provider</h2>
      <UsageTable rows={data.providers.data} groupLabel="Provider" />
      <h2>By model</h2>
      <UsageTable rows={data.models.data} groupLabel="Model" />
    </section>
  );
}
