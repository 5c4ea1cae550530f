import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/**
 * Metric names used by PromQL expressions (dashboard panels, alert rules), and the names a live
 * Prometheus text exposition offers: the observability tests check the first against the
 * second. A small tokenizer, not a parser: it skips strings, label matchers `{...}`, ranges and
 * subqueries `[...]`, Grafana variables (`$x`, `${x}`), numbers and durations, keywords, the
 * label lists of by/without/on/ignoring/group_left/group_right, and function and aggregation
 * names (an identifier followed by `(`, or by `by (`/`without (`). What is left are the selectors' metric names.
 */

export const OBSERVABILITY_DIR = path.resolve(__dirname, '..', '..', '..', 'deploy', 'observability');
export const DASHBOARD_FILE = path.join(OBSERVABILITY_DIR, 'grafana-dashboard.json');
export const ALERTS_FILE = path.join(OBSERVABILITY_DIR, 'alerts.yaml');
export const ALERT_TESTS_FILE = path.join(OBSERVABILITY_DIR, 'alerts.test.yaml');
export const PROMETHEUS_CONFIG_FILE = path.join(OBSERVABILITY_DIR, 'prometheus.yml');

/**
 * Series Prometheus makes itself rather than scraping: `up` per target (1 when the scrape
 * succeeded). Nothing else may be missing from the live endpoints.
 */
export const SYNTHETIC_METRICS = new Set(['up']);

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'atan2', 'inf', 'nan']);
/** Aggregations may put their grouping first: `sum by (x) (...)`. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;

/** Index just past the quoted string starting at `i`. */
function skipString(s: string, i: number): number {
  const quote = s[i];
  i++;
  while (i < s.length && s[i] !== quote) i += s[i] === '\\' && quote !== '`' ? 2 : 1;
  return i + 1;
}

/** Index just past the bracket closing the one at `i` (strings inside skipped). */
function skipBalanced(s: string, i: number, open: string, close: string): number {
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(s, i) - 1;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${open}${close} in PromQL: ${s}`);
}

function nextNonSpace(s: string, i: number): string | undefined {
  while (i < s.length && /\s/.test(s[i])) i++;
  return s[i];
}

/** Metric names selected by a PromQL expression (Grafana variables allowed), in order, once each. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const s = expr;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < s.length && s[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      i = skipString(s, i);
    } else if (c === '{') {
      // Label matchers; a bare {__name__="x"} selector names its metric here.
      const end = skipBalanced(s, i, '{', '}');
      const m = /__name__\s*=\s*["']([A-Za-z_:][A-Za-z0-9_:]*)["']/.exec(s.slice(i, end));
      if (m) names.add(m[1]);
      i = end;
    } else if (c === '[') {
      i = skipBalanced(s, i, '[', ']');
    } else if (c === '$') {
      const start = i;
      i++;
      if (s[i] === '{') i = skipBalanced(s, i, '{', '}');
      else while (i < s.length && /[A-Za-z0-9_]/.test(s[i])) i++;
      // A variable glued to a name (`${prefix}_total`) hides the metric from the check.
      if (IDENT_PART.test(s[i] ?? '') || IDENT_PART.test(s[start - 1] ?? '')) {
        throw new Error(`a metric name built from a variable cannot be checked: ${s.slice(Math.max(0, start - 20), i + 20)}`);
      }
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
      // Numbers (1, 0.99, 1e-3, 0x1f) and durations (5m, 1h30m).
      i++;
      while (i < s.length && (/[A-Za-z0-9_.]/.test(s[i]) || (/[+-]/.test(s[i]) && /[eE]/.test(s[i - 1])))) i++;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < s.length && IDENT_PART.test(s[j])) j++;
      const ident = s.slice(i, j);
      const next = nextNonSpace(s, j);
      const lower = ident.toLowerCase();
      if (KEYWORDS.has(lower)) {
        if (LABEL_LIST_KEYWORDS.has(lower) && next === '(') j = skipBalanced(s, s.indexOf('(', j), '(', ')');
      } else if (AGGREGATIONS.has(lower) && /^\s*(by|without)\s*\(/i.test(s.slice(j))) {
        // The aggregation's name; its label list is skipped as the keyword comes next.
      } else if (next !== '(') {
        names.add(ident);
      }
      i = j;
    } else {
      i++;
    }
  }
  return [...names];
}

/** Top-level comma-separated arguments of `fn(...)` when `query` is exactly such a call. */
function callArgs(query: string, fn: string): string[] | undefined {
  const m = new RegExp(`^\\s*${fn}\\s*\\(`).exec(query);
  if (!m) return undefined;
  const open = m[0].length - 1;
  const end = skipBalanced(query, open, '(', ')');
  if (query.slice(end).trim() !== '') return undefined;
  const inner = query.slice(open + 1, end - 1);
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"' || c === "'" || c === '`') i = skipString(inner, i) - 1;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      args.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  args.push(inner.slice(start));
  return args.map((a) => a.trim());
}

/**
 * Metric names of a Grafana Prometheus variable query: `label_values(metric{...}, label)` (the
 * label is not a metric), `label_values(label)` (none), `query_result(expr)`, `metrics(regex)`
 * (none), or a plain expression.
 */
export function variableQueryNames(query: string): string[] {
  const lv = callArgs(query, 'label_values');
  if (lv) return lv.length >= 2 ? metricNames(lv[0]) : [];
  const qr = callArgs(query, 'query_result');
  if (qr) return metricNames(qr[0]);
  if (callArgs(query, 'metrics') || callArgs(query, 'label_names')) return [];
  return metricNames(query);
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
  [k: string]: unknown;
}

export interface Dashboard {
  schemaVersion: number;
  title: string;
  uid?: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown; definition?: string; datasource?: { type?: string; uid?: string }; [k: string]: unknown }[] };
  [k: string]: unknown;
}

export function loadDashboard(): Dashboard {
  return JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every panel, those nested in collapsed rows included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The text of a variable's query (Grafana stores a string or `{ query }`). */
export function variableQueryText(v: Dashboard['templating']['list'][number]): string | undefined {
  if (typeof v.query === 'string') return v.query;
  if (v.query && typeof v.query === 'object' && typeof (v.query as { query?: unknown }).query === 'string') return (v.query as { query: string }).query;
  return undefined;
}

/** Where each metric name is used: `panel <id> "<title>"`, `variable <name>`, `alert <name>`. */
export type Usages = Map<string, string[]>;

function use(usages: Usages, names: string[], where: string): void {
  for (const n of names) usages.set(n, [...(usages.get(n) ?? []), where]);
}

export function dashboardMetricUsages(d: Dashboard = loadDashboard()): Usages {
  const usages: Usages = new Map();
  for (const p of allPanels(d)) for (const t of p.targets ?? []) if (t.expr) use(usages, metricNames(t.expr), `panel ${p.id} "${p.title}" ${t.refId}`);
  for (const v of d.templating.list) {
    const q = v.type === 'query' ? variableQueryText(v) : undefined;
    if (q) use(usages, variableQueryNames(q), `variable ${v.name}`);
  }
  return usages;
}

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadAlertRules(): AlertRule[] {
  const doc = YAML.parse(fs.readFileSync(ALERTS_FILE, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export function alertMetricUsages(rules: AlertRule[] = loadAlertRules()): Usages {
  const usages: Usages = new Map();
  for (const r of rules) use(usages, metricNames(r.expr), `alert ${r.alert ?? r.record}`);
  return usages;
}

/**
 * Names a Prometheus text exposition offers: every sample's name, and every family declared by
 * `# TYPE` (a family with no sample yet, such as an error counter that never counted, is still
 * the right name). A histogram offers `_bucket`, `_sum` and `_count`, not its bare name; a
 * summary its bare name (quantiles), `_sum` and `_count`.
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      else if (kind === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
      else names.add(name);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{|\s)/.exec(line);
    if (sample) names.add(sample[1]);
  }
  return names;
}

/** Names used somewhere but offered by none of the expositions (nor made by Prometheus itself). */
export function missingNames(usages: Usages, offered: Set<string>): { name: string; usedBy: string[] }[] {
  return [...usages.entries()]
    .filter(([name]) => !offered.has(name) && !SYNTHETIC_METRICS.has(name))
    .map(([name, usedBy]) => ({ name, usedBy }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
