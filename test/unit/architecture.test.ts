/**
 * Architecture check: runs dependency-cruiser with the repo's rule set (.dependency-cruiser.cjs)
 * over src/** and plugins/** and fails on any violation:
 *   - no-circular                     import cycles (type-only imports count)
 *   - envoy-protos-only-in-src-envoy  gRPC / protobufjs / .proto outside src/envoy/**
 *   - plugin-only-public-api          plugins/** → src/ other than src/plugins/api.ts, src/index.ts, src/domain/**
 *   - plugin-only-own-folder          plugins/<a>/** → plugins/<b>/**
 *   - provider-only-public-api        src/providers/** → src/ other than the above and src/providers/**
 *   - surface-is-pure                 src/surfaces/** → anything outside src/domain/** and src/surfaces/**
 *   - domain-is-innermost             src/domain/** → anything outside src/domain/**
 *   - no-unresolvable                 an import the cruise could not resolve (a hole in the graph)
 *
 * A second test cruises a small fixture, written to a temp dir, with the very same config file
 * and asserts that every rule fires on it exactly where expected, so the check is known to be
 * able to fail.
 *
 * By hand: npx depcruise --config .dependency-cruiser.cjs src plugins
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const CRUISER_DIR = path.join(ROOT, 'node_modules', 'dependency-cruiser');

interface CruiseViolation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: Array<{ name: string } | string>;
}

interface CruiseResult {
  modules: Array<{ source: string }>;
  summary: {
    violations: CruiseViolation[];
    totalCruised: number;
    optionsUsed: { tsPreCompilationDeps?: boolean | string };
    ruleSetUsed: { forbidden?: Array<{ name: string; comment?: string }> };
  };
}

/** One violation as a stable, readable line. Cycles are named by their members in path order. */
function describeViolation(v: CruiseViolation): string {
  if (v.cycle && v.cycle.length > 0) {
    const members = v.cycle.map((c) => (typeof c === 'string' ? c : c.name));
    // Rotate so the cycle starts at its smallest member: the same cycle always prints the same.
    const start = members.indexOf([...members].sort()[0]);
    const ordered = [...members.slice(start), ...members.slice(0, start)];
    return `${v.rule.name}: ${[...ordered, ordered[0]].join(' → ')}`;
  }
  return `${v.rule.name}: ${v.from} → ${v.to}`;
}

function violationLines(result: CruiseResult): string[] {
  return [...new Set(result.summary.violations.map(describeViolation))].sort();
}

/** Runs the depcruise CLI (ESM; so a child process rather than an import from ts-jest's CJS). */
function cruise(cwd: string, targets: string[]): Promise<CruiseResult> {
  const pkg = JSON.parse(fs.readFileSync(path.join(CRUISER_DIR, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  const cli = path.join(CRUISER_DIR, pkg.bin.depcruise);
  const args = [cli, '--config', CONFIG, '--output-type', 'json', ...targets];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      // depcruise exits with the number of error-level violations, so a non-zero code is normal;
      // only output that is not the JSON report means the cruise itself failed.
      const stdout = Buffer.concat(out).toString('utf8');
      try {
        resolve(JSON.parse(stdout) as CruiseResult);
      } catch {
        reject(
          new Error(
            `depcruise (exit ${code}) in ${cwd} did not print a JSON report.\n` +
              `stderr:\n${Buffer.concat(err).toString('utf8')}\nstdout:\n${stdout.slice(0, 2000)}`,
          ),
        );
      }
    });
  });
}

function report(result: CruiseResult): string {
  const comments = new Map((result.summary.ruleSetUsed.forbidden ?? []).map((r) => [r.name, r.comment ?? '']));
  const byRule = new Map<string, string[]>();
  for (const line of violationLines(result)) {
    const rule = line.slice(0, line.indexOf(':'));
    byRule.set(rule, [...(byRule.get(rule) ?? []), line.slice(rule.length + 2)]);
  }
  const parts = [...byRule].map(
    ([rule, lines]) => `${rule} (${lines.length}) — ${comments.get(rule)}\n${lines.map((l) => `    ${l}`).join('\n')}`,
  );
  return (
    `${violationLines(result).length} architecture violation(s) (rules: .dependency-cruiser.cjs; ` +
    `reproduce: npx depcruise --config .dependency-cruiser.cjs src plugins):\n\n${parts.join('\n\n')}\n`
  );
}

describe('architecture (dependency-cruiser)', () => {
  test('src/** and plugins/** follow the dependency rules', async () => {
    const result = await cruise(ROOT, ['src', 'plugins']);

    // Guard against a vacuous pass (wrong cwd, everything excluded, type-only edges dropped).
    expect(result.summary.optionsUsed.tsPreCompilationDeps).toBe(true);
    const sources = result.modules.map((m) => m.source);
    for (const expected of ['src/plugins/api.ts', 'src/domain/index.ts', 'src/index.ts']) {
      expect(sources).toContain(expected);
    }
    expect(sources.some((s) => s.startsWith('plugins/'))).toBe(true);
    expect(sources.some((s) => s.startsWith('src/envoy/'))).toBe(true);
    expect(sources.filter((s) => /(^|\/)(test|dist)\/|\.test\.ts$/.test(s))).toEqual([]);

    if (result.summary.violations.length > 0) throw new Error(report(result));
  });

  describe('self-test on a fixture (same config file)', () => {
    let dir = '';

    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'commonjs', moduleResolution: 'node', strict: true },
        include: ['src/**/*.ts', 'plugins/**/*.ts'],
      }),
      // Stand-ins for the real packages, so resolution is the same as in the repo.
      'node_modules/@grpc/grpc-js/package.json': JSON.stringify({ name: '@grpc/grpc-js', main: 'index.js' }),
      'node_modules/@grpc/grpc-js/index.js': 'module.exports = {};\n',
      'node_modules/protobufjs/package.json': JSON.stringify({ name: 'protobufjs', main: 'index.js' }),
      'node_modules/protobufjs/index.js': 'module.exports = {};\n',
      'node_modules/yaml/package.json': JSON.stringify({ name: 'yaml', main: 'index.js' }),
      'node_modules/yaml/index.js': 'module.exports = {};\n',
      'proto/envoy/ext_proc.proto': 'syntax = "proto3";\n',

      // Allowed: domain imports only domain; api and the root re-export domain.
      'src/domain/errors.ts': 'export class GatewayError extends Error {}\n',
      'src/domain/json.ts': 'export type JsonValue = string | number | boolean | null;\n',
      'src/domain/index.ts': "export * from './errors';\nexport type { JsonValue } from './json';\n",
      'src/plugins/api.ts': "import type { JsonValue } from '../domain';\nexport const definePlugin = (p: { body?: JsonValue }) => p;\n",
      'src/index.ts': "export * from './domain';\nexport * from './plugins/api';\n",
      // Allowed: gRPC inside src/envoy/**.
      'src/envoy/extproc/codec.ts': "import * as grpc from '@grpc/grpc-js';\nexport const codec = grpc;\n",
      // Violation (domain-is-innermost): domain reaching out to core.
      'src/domain/settings.ts': "import type { A } from '../core/a';\nexport type Settings = A;\n",
      // Violation (no-circular): a cycle made of type-only imports.
      'src/core/a.ts': "import type { B } from './b';\nexport interface A { b?: B }\n",
      'src/core/b.ts': "import type { A } from './a';\nexport interface B { a?: A }\n",
      // Violations (envoy-protos-only-in-src-envoy): gRPC, protobufjs and a .proto outside src/envoy.
      'src/processor.ts':
        "import { Server } from '@grpc/grpc-js';\nimport type { Root } from 'protobufjs';\n" +
        "import '../proto/envoy/ext_proc.proto';\nexport const x: [unknown, Root?] = [Server];\n",
      // Violation (no-unresolvable).
      'src/core/broken.ts': "import { gone } from './moved-away';\nexport const y = gone;\n",
      // Providers: own folder, other providers, domain and root are fine; core is not.
      'src/providers/shared.ts': "import { GatewayError } from '../domain/errors';\nexport const E = GatewayError;\n",
      'src/providers/acme/index.ts':
        "import { E } from '../shared';\nimport type { JsonValue } from '../../index';\n" +
        "import type { A } from '../../core/a';\nexport const acme: [unknown, JsonValue?, A?] = [E];\n",
      // Surfaces: domain and other surfaces are fine; core is not.
      'src/surfaces/types.ts': "import type { JsonValue } from '../domain/json';\nexport type Body = JsonValue;\n",
      'src/surfaces/acme/index.ts':
        "import type { Body } from '../types';\nimport type { JsonValue } from '../../domain';\n" +
        "import type { A } from '../../core/a';\nexport type S = [Body?, JsonValue?, A?];\n",
      // Plugins: api, root, domain, own folder and packages are fine.
      'plugins/good/helper.ts': 'export const help = 1;\n',
      'plugins/good/index.ts':
        "import { definePlugin } from '../../src/plugins/api';\nimport { GatewayError } from '../../src/index';\n" +
        "import type { JsonValue } from '../../src/domain/json';\nimport * as yaml from 'yaml';\nimport { help } from './helper';\n" +
        'export default definePlugin({ body: help as JsonValue });\nexport const e = [GatewayError, yaml];\n',
      // Violations: a plugin importing src/envoy (plugin-only-public-api) and another plugin (plugin-only-own-folder).
      'plugins/bad/index.ts':
        "import { codec } from '../../src/envoy/extproc/codec';\nimport { help } from '../good/helper';\n" +
        'export const bad = [codec, help];\n',
    };

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'architecture-fixture-'));
      for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
    });

    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('every rule reports exactly the planted violations', async () => {
      const result = await cruise(dir, ['src', 'plugins']);

      expect(violationLines(result)).toEqual(
        [
          'domain-is-innermost: src/domain/settings.ts → src/core/a.ts',
          'envoy-protos-only-in-src-envoy: src/processor.ts → node_modules/@grpc/grpc-js/index.js',
          'envoy-protos-only-in-src-envoy: src/processor.ts → node_modules/protobufjs/index.js',
          'envoy-protos-only-in-src-envoy: src/processor.ts → proto/envoy/ext_proc.proto',
          'no-circular: src/core/a.ts → src/core/b.ts → src/core/a.ts',
          'no-unresolvable: src/core/broken.ts → ./moved-away',
          'plugin-only-own-folder: plugins/bad/index.ts → plugins/good/helper.ts',
          'plugin-only-public-api: plugins/bad/index.ts → src/envoy/extproc/codec.ts',
          'provider-only-public-api: src/providers/acme/index.ts → src/core/a.ts',
          'surface-is-pure: src/surfaces/acme/index.ts → src/core/a.ts',
        ].sort(),
      );

      // Every rule in the real rule set is shown able to fail.
      const rules = (result.summary.ruleSetUsed.forbidden ?? []).map((r) => r.name).sort();
      const fired = [...new Set(result.summary.violations.map((v) => v.rule.name))].sort();
      expect(fired).toEqual(rules);
      // And the failure message names rule, from and to.
      expect(report(result)).toContain('plugin-only-public-api (1)');
      expect(report(result)).toContain('plugins/bad/index.ts → src/envoy/extproc/codec.ts');
    });
  });
});
