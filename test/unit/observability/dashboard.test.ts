import {
  allPanels,
  dashboardMetricUsages,
  exposedNames,
  loadDashboard,
  metricNames,
  missingNames,
  variableQueryNames,
  variableQueryText,
  type Panel,
} from './promql-names';

/**
 * deploy/observability/grafana-dashboard.json: its structure (importable into a current Grafana,
 * every panel querying the `${datasource}` variable, no hard-coded UIDs), and the tokenizer that
 * the live check (test/e2e/observability.test.ts) uses to find the metric names it queries.
 */

describe('metric names of a PromQL expression', () => {
  test.each([
    ['gateway_requests_total', ['gateway_requests_total']],
    ['sum by (provider, model) (rate(gateway_requests_total{provider=~"$provider", status=~"5.."}[$__rate_interval]))', ['gateway_requests_total']],
    ['histogram_quantile(0.99, sum by (le) (rate(gateway_request_duration_seconds_bucket{job="x"}[5m])))', ['gateway_request_duration_seconds_bucket']],
    ['sum(rate(a_total[5m])) by (provider) / ignoring(status) group_left(model) sum without (le) (b_count offset 1h)', ['a_total', 'b_count']],
    ['up{job=~"$processor_job"} == 0 and on(instance) envoy_server_live > bool 0', ['up', 'envoy_server_live']],
    ['label_replace(x_total, "dst", "$1", "src", "(.*)") unless y', ['x_total', 'y']],
    ['max_over_time(gateway_usage_queue_depth[1h:5m]) > 1e3 or vector(0)', ['gateway_usage_queue_depth']],
    ['{__name__="envoy_cluster_upstream_rq_total", envoy_cluster_name="a"} * 3600', ['envoy_cluster_upstream_rq_total']],
    ['sum(rate(x_total[${__rate_interval}])) + Inf - NaN * $scale', ['x_total']],
    ['topk(5, sum by (model) (increase(gateway_cost_usd_total[$__range] @ end())))', ['gateway_cost_usd_total']],
    ['# a comment naming not_a_metric\nrate(foo:bar_total[1m])', ['foo:bar_total']],
  ])('%s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });

  test('a metric name built from a variable is refused, not skipped', () => {
    expect(() => metricNames('rate(${prefix}_requests_total[5m])')).toThrow(/built from a variable/);
    expect(() => metricNames('rate(gateway_$kind[5m])')).toThrow(/built from a variable/);
  });

  test('Grafana variable queries: label_values names its selector only, not the label', () => {
    expect(variableQueryNames('label_values(gateway_requests_total{provider=~"$provider"}, model)')).toEqual(['gateway_requests_total']);
    expect(variableQueryNames('label_values(provider)')).toEqual([]);
    expect(variableQueryNames('query_result(topk(5, sum by (model) (gateway_tokens_total)))')).toEqual(['gateway_tokens_total']);
    expect(variableQueryNames('metrics(gateway_.*)')).toEqual([]);
  });

  test('an exposition offers samples, declared families, and the _bucket/_sum/_count of histograms', () => {
    const offered = exposedNames(
      [
        '# HELP h_seconds help',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="1"} 0',
        '# TYPE never_counted_total counter',
        '# TYPE envoy_x counter',
        'envoy_x{envoy_cluster_name="a"} 1',
        'untyped_thing 3',
      ].join('\n'),
    );
    expect([...offered].sort()).toEqual(['envoy_x', 'h_seconds_bucket', 'h_seconds_count', 'h_seconds_sum', 'never_counted_total', 'untyped_thing']);
    const usages = new Map([
      ['h_seconds', ['panel 1']],
      ['h_seconds_count', ['panel 2']],
      ['up', ['panel 3']],
      ['typo_total', ['panel 4']],
    ]);
    expect(missingNames(usages, offered)).toEqual([
      { name: 'h_seconds', usedBy: ['panel 1'] },
      { name: 'typo_total', usedBy: ['panel 4'] },
    ]);
  });
});

describe('the Grafana dashboard', () => {
  const d = loadDashboard();
  const panels = allPanels(d);
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const variables = new Map(d.templating.list.map((v) => [v.name, v]));
  const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

  test('is a classic dashboard model of a current Grafana', () => {
    expect(d.schemaVersion).toBeGreaterThanOrEqual(41);
    expect(d.title).toBeTruthy();
    expect(d.panels.length).toBeGreaterThan(0);
    expect(Array.isArray(d.templating.list)).toBe(true);
  });

  test('takes its Prometheus data source from the ${datasource} variable: no hard-coded UIDs, no import inputs', () => {
    const ds = variables.get('datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(d.uid).toBeUndefined();
    expect(d).not.toHaveProperty('__inputs');
    const uids: unknown[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'uid') uids.push(x);
          walk(x);
        }
      }
    };
    walk(d.panels);
    walk(d.templating);
    walk(d.annotations);
    expect(uids.length).toBeGreaterThan(0);
    expect(uids.filter((u) => u !== '${datasource}')).toEqual([]);
    expect(JSON.stringify(d)).not.toMatch(/\$\{DS_/);
  });

  test('panels have unique ids, a type, a title and a place on the 24-column grid, without overlapping', () => {
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id! > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, number>();
    for (const p of panels) {
      expect(p.type).toBeTruthy();
      expect(p.title).toBeTruthy();
      const g = p.gridPos!;
      expect(g).toBeDefined();
      expect(g.w).toBeGreaterThan(0);
      expect(g.h).toBeGreaterThan(0);
      expect(g.x).toBeGreaterThanOrEqual(0);
      expect(g.x + g.w).toBeLessThanOrEqual(24);
      for (let y = g.y; y < g.y + g.h; y++) {
        for (let x = g.x; x < g.x + g.w; x++) {
          const other = cells.get(`${x},${y}`);
          if (other !== undefined) throw new Error(`panel ${p.id} "${p.title}" overlaps panel ${other} at ${x},${y}`);
          cells.set(`${x},${y}`, p.id!);
        }
      }
    }
  });

  test('every non-row panel queries Prometheus through ${datasource}, with targets that name metrics', () => {
    expect(queryPanels.length).toBeGreaterThan(30);
    for (const p of queryPanels) {
      const where = `panel ${p.id} "${p.title}"`;
      expect({ where, datasource: p.datasource }).toEqual({ where, datasource: DATASOURCE });
      expect({ where, targets: (p.targets ?? []).length > 0 }).toEqual({ where, targets: true });
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets!) {
        expect({ where, refId: t.refId, datasource: t.datasource }).toEqual({ where, refId: t.refId, datasource: DATASOURCE });
        expect(typeof t.expr === 'string' && t.expr.trim() !== '').toBe(true);
        expect({ where, expr: t.expr, names: metricNames(t.expr!).length > 0 }).toEqual({ where, expr: t.expr, names: true });
      }
    }
    for (const row of panels.filter((p) => p.type === 'row')) expect(row.targets ?? []).toEqual([]);
  });

  test('query variables use ${datasource}; every variable an expression uses is defined', () => {
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      expect({ name: v.name, datasource: v.datasource }).toEqual({ name: v.name, datasource: DATASOURCE });
      expect(variableQueryText(v)).toBeTruthy();
    }
    const builtIn = new Set(['__rate_interval', '__range', '__interval', '__all']);
    const texts = [...queryPanels.flatMap((p: Panel) => (p.targets ?? []).map((t) => t.expr ?? '')), ...d.templating.list.map((v) => variableQueryText(v) ?? '')];
    const used = new Set(texts.flatMap((t) => [...t.matchAll(/\$\{?(\w+)/g)].map((m) => m[1])));
    expect([...used].filter((u) => !builtIn.has(u) && !variables.has(u))).toEqual([]);
  });

  test('covers the processor and Envoy: traffic, errors, latency, first token, tokens, cost, limits, cache, usage queue, upstreams, ext_proc, up', () => {
    const used = new Set(dashboardMetricUsages(d).keys());
    for (const name of [
      'up',
      'gateway_requests_total',
      'gateway_request_duration_seconds_bucket',
      'gateway_time_to_first_byte_seconds_bucket',
      'gateway_tokens_total',
      'gateway_cost_usd_total',
      'gateway_ratelimit_decisions_total',
      'gateway_ratelimit_backend_errors_total',
      'gateway_response_cache_lookups_total',
      'gateway_usage_queue_depth',
      'gateway_extproc_streams_total',
      'envoy_cluster_upstream_rq_xx',
      'envoy_cluster_upstream_rq_total',
      'envoy_cluster_upstream_rq_time_bucket',
      'envoy_cluster_upstream_cx_active',
      'envoy_cluster_upstream_cx_connect_fail',
      'envoy_http_ext_proc_streams_started',
      'envoy_http_ext_proc_streams_failed',
      'envoy_http_ext_proc_message_timeouts',
    ]) {
      expect({ name, used: used.has(name) }).toEqual({ name, used: true });
    }
  });
});
