import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import {
  ALERT_TESTS_FILE,
  ALERTS_FILE,
  allPanels,
  loadAlertRules,
  loadDashboard,
  OBSERVABILITY_DIR,
  PROMETHEUS_CONFIG_FILE,
} from './promql-names';

/**
 * deploy/observability/alerts.yaml under Prometheus's own tools: `promtool check rules`, the
 * unit tests of alerts.test.yaml (`promtool test rules`), the example scrape configuration
 * (`promtool check config`), and the dashboard's expressions parsed as PromQL. promtool comes
 * from Debian's `prometheus` package (.ci/run installs it); without it these tests fail rather
 * than skip.
 */

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const hasPromtool = promtool.status === 0;

function run(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: OBSERVABILITY_DIR, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface RuleTest {
  name?: string;
  alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[];
}

test('promtool is installed (Debian package "prometheus"; .ci/run installs it)', () => {
  if (!hasPromtool) {
    throw new Error(
      `promtool not found (${promtool.error?.message ?? `exit ${promtool.status}`}): the alert rules cannot be checked. ` +
        'Install it: apt-get install prometheus (it provides /usr/bin/promtool).',
    );
  }
});

(hasPromtool ? describe : describe.skip)('with promtool', () => {
  const rules = loadAlertRules();
  const alerts = rules.filter((r) => r.alert);

  test('promtool check rules accepts alerts.yaml', () => {
    const r = run('check', 'rules', path.basename(ALERTS_FILE));
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  test('promtool test rules: alerts.test.yaml passes', () => {
    const r = run('test', 'rules', path.basename(ALERT_TESTS_FILE));
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.status).toBe(0);
  });

  test('promtool check config accepts prometheus.yml, whose jobs are those the rules and dashboard use', () => {
    const r = run('check', 'config', path.basename(PROMETHEUS_CONFIG_FILE));
    expect(r.out).toContain('is valid prometheus config file syntax');
    expect(r.status).toBe(0);
    const config = YAML.parse(fs.readFileSync(PROMETHEUS_CONFIG_FILE, 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string; metrics_path?: string }[] };
    expect(config.rule_files).toEqual([path.basename(ALERTS_FILE)]);
    const jobs = Object.fromEntries(config.scrape_configs.map((s) => [s.job_name, s.metrics_path ?? '/metrics']));
    expect(jobs).toEqual({ 'llm-gateway-processor': '/metrics', 'llm-gateway-envoy': '/stats/prometheus' });
    const down = alerts.find((a) => a.alert === 'LLMGatewayProcessorDown')!;
    expect(down.expr).toContain('up{job="llm-gateway-processor"}');
    const vars = Object.fromEntries(loadDashboard().templating.list.map((v) => [v.name, v.query]));
    expect(vars.processor_job).toBe('llm-gateway-processor');
    expect(vars.envoy_job).toBe('llm-gateway-envoy');
  });

  test('every alert has a severity, a for: duration, a summary and a description', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'LLMGatewayExtProcFailing',
      'LLMGatewayLatencyP99High',
      'LLMGatewayProcessorDown',
      'LLMGatewayProviderErrorRate',
      'LLMGatewayRateLimitBackendErrors',
      'LLMGatewayTimeToFirstByteP99High',
      'LLMGatewayUsageQueueBacklog',
      'LLMGatewayUsageRecordsDropped',
    ]);
    for (const a of alerts) {
      expect({ alert: a.alert, severity: ['warning', 'critical'].includes(a.labels?.severity ?? '') }).toEqual({ alert: a.alert, severity: true });
      expect({ alert: a.alert, for: a.for }).toEqual({ alert: a.alert, for: expect.stringMatching(/^\d+[mh]$/) });
      expect(a.annotations?.summary?.length).toBeGreaterThan(10);
      expect(a.annotations?.description?.length).toBeGreaterThan(30);
    }
  });

  test('alerts.test.yaml tests every alert firing and not firing, and no alert that does not exist', () => {
    const doc = YAML.parse(fs.readFileSync(ALERT_TESTS_FILE, 'utf8')) as { rule_files: string[]; tests: RuleTest[] };
    expect(doc.rule_files).toEqual([path.basename(ALERTS_FILE)]);
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    const names = new Set(alerts.map((a) => a.alert));
    // promtool passes an expectation of no alert for a misspelt name: refuse those here.
    expect(cases.map((c) => c.alertname).filter((n) => !names.has(n))).toEqual([]);
    for (const name of names) {
      const mine = cases.filter((c) => c.alertname === name);
      expect({ name, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ name, fires: true });
      expect({ name, quiet: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ name, quiet: true });
    }
  });

  test("the dashboard's expressions are valid PromQL (Grafana variables substituted)", () => {
    // Each target becomes a recording rule: promtool check rules parses its expression.
    const substitute = (expr: string) =>
      expr.replace(/\$\{?(\w+)(?::\w+)?\}?/g, (_m, name: string) => (name === '__range' ? '1h' : name.startsWith('__') ? '1m' : '.*'));
    const records = allPanels(loadDashboard()).flatMap((p) =>
      (p.targets ?? []).map((t) => ({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: substitute(t.expr ?? '') })),
    );
    expect(records.length).toBeGreaterThan(50);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-promql-'));
    try {
      const file = path.join(dir, 'dashboard-rules.yaml');
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules: records }] }));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${records.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
