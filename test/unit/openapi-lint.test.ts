import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildOpenApiDocument } from '../../src/admin/openapi/document';

/**
 * The OpenAPI document (served at /openapi.json) passes Redocly's `recommended` rules with no
 * error. The only warnings allowed are listed below, each for a reason; any other fails.
 * (test/e2e/openapi.test.ts checks the document against the running gateway.)
 */

const ROOT = path.resolve(__dirname, '..', '..');
const REDOCLY = path.join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

interface Problem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

const ALLOWED_WARNINGS: { rule: string; pointer: RegExp; why: string }[] = [
  {
    rule: 'no-illogical-composition-keywords',
    pointer: /^#\/components\/schemas\/ChatCompletionRequest\//,
    why: 'the request-validation plugin\'s own schema (a one-branch oneOf where extra part types may be configured)',
  },
  {
    rule: 'no-required-schema-properties-undefined',
    pointer: /^#\/components\/schemas\/(ChatCompletionRequest|ResponseRequest)\//,
    why: 'the request-validation plugin\'s own schema (`anyOf`/`if` requiring properties defined beside them)',
  },
  {
    rule: 'operation-4xx-response',
    pointer: /^#\/paths\/~1(health|metrics|openapi\.json|docs)\/get\/responses$/,
    why: 'public GETs with no client error of their own',
  },
];

test('the document passes `redocly lint` (recommended rules) with no error and no unexpected warning', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-openapi-lint-'));
  const file = path.join(dir, 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(buildOpenApiDocument(), null, 2));
  // Offline: no telemetry, no update check. Exits 1 when there are errors, with the report all the same.
  const env = { PATH: process.env.PATH, HOME: dir, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' };
  const run = promisify(execFile)(process.execPath, [REDOCLY, 'lint', file, '--extends=recommended', '--format=json'], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
  const stdout = await run.then((r) => r.stdout, (err: { stdout?: string }) => err.stdout ?? '');
  const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Problem[] };
  const describe = (p: Problem) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`;
  expect(report.problems.filter((p) => p.severity === 'error').map(describe)).toEqual([]);
  expect(report.totals.errors).toBe(0);
  const unexpected = report.problems.filter((p) => !ALLOWED_WARNINGS.some((a) => a.rule === p.ruleId && a.pointer.test(p.location[0]?.pointer ?? '')));
  expect(unexpected.map(describe)).toEqual([]);
});
