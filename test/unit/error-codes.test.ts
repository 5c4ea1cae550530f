/**
 * The error code catalogue (src/domain/error-codes.ts) against the code that sends the codes.
 *
 * A scanner parses src/** and plugins/** with the TypeScript compiler API and collects every
 * error `code` the gateway can send to a client:
 *   - `new GatewayError(status, code, ...)` and `errorBody(status, code, ...)`, the code being a
 *     string literal, a conditional or `??` of literals, or a local variable holding those;
 *   - calls of wrappers of those (a function passing its own parameter on as the code, like
 *     `deny(status, code, ...)` in src/admin/auth.ts or `invalidValue(message, param, code =
 *     'invalid_value')` in src/providers/shared/errors.ts), found automatically, defaults included;
 *   - error-shaped object literals (`{ code: '...', message|type: ... }`): tables of failures,
 *     validation problems, Envoy's local replies, the RateLimitService's body, providers' maps;
 *   - in providers' response translators (src/providers/<name>/response.ts), the status → code
 *     tables, `[type, code]` tuples and assignments to `code`.
 * A code argument the scanner cannot reduce to literals is a *dynamic* site: each must be listed
 * in KNOWN_DYNAMIC below with the codes it produces (or why it passes a foreign value through).
 *
 * The tests then check: every scanned code is catalogued with the right source, status and type;
 * every catalogue entry is still sent somewhere; types agree with errorType (status, code) unless the
 * code passes one explicitly; docs/errors.md lists exactly the catalogue. The scanner is also run
 * on inline sources to show that it finds (and so the test reports) an uncatalogued code.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ERROR_CODES, errorType, type ErrorCode, type ErrorCodeInfo, type ErrorCodeType, type ErrorSource, type OpenAIErrorType } from '../../src/domain';

const ROOT = path.resolve(__dirname, '..', '..');

type Via = 'GatewayError' | 'errorBody' | 'wrapper' | 'default' | 'error-object' | 'status-table' | 'type-tuple' | 'assignment';

interface CodeSite {
  code: string;
  file: string;
  line: number;
  source: ErrorSource;
  via: Via;
  /** The HTTP status, when the site states it as a literal. */
  status?: number;
  /** The OpenAI type the site passes explicitly (a literal), if any. */
  type?: string;
}

interface DynamicSite {
  file: string;
  line: number;
  /** The source text of the expression that could not be reduced to literals. */
  expr: string;
}

interface ScanResult {
  sites: CodeSite[];
  dynamic: DynamicSite[];
}

interface Wrapper {
  codeIndex: number;
  statusIndex?: number;
  fixedStatus?: number;
}

const CODE_SHAPE = /^[a-z][a-z0-9_]*$/;
const ERROR_TYPES = new Set<string>([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'server_error',
  'api_error',
  'insufficient_quota',
]);

/** Where a file's codes come from: Envoy's generated configuration, a provider's mapped error, or the gateway. */
function sourceOf(file: string): ErrorSource {
  if (file.startsWith('src/envoy/config/')) return 'envoy';
  if (isProviderResponse(file)) return 'provider';
  return 'gateway';
}

const isProviderResponse = (file: string) => /^src\/providers\/[^/]+\/response\.ts$/.test(file);

const unwrap = (e: ts.Expression): ts.Expression => {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
  return e;
};

const propName = (n: ts.PropertyName | undefined): string | undefined =>
  n && (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n)) ? n.text : undefined;

function numberOf(e: ts.Expression | undefined): number | undefined {
  if (!e) return undefined;
  e = unwrap(e);
  return ts.isNumericLiteral(e) ? Number(e.text) : undefined;
}

function stringOf(e: ts.Expression | undefined): string | undefined {
  if (!e) return undefined;
  e = unwrap(e);
  return ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) ? e.text : undefined;
}

function objectProp(obj: ts.ObjectLiteralExpression, name: string): ts.ObjectLiteralElementLike | undefined {
  return obj.properties.find((p) => (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && propName(p.name) === name);
}

function objectValue(obj: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  const p = objectProp(obj, name);
  return p && ts.isPropertyAssignment(p) ? p.initializer : undefined;
}

const isFunctionLike = (n: ts.Node): n is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n) || ts.isArrowFunction(n) || ts.isMethodDeclaration(n) || ts.isConstructorDeclaration(n);

/** The name a function is called by: its own, or the variable it is assigned to. */
function functionName(fn: ts.FunctionLikeDeclaration): string | undefined {
  if (fn.name && ts.isIdentifier(fn.name)) return fn.name.text;
  const parent = fn.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return undefined;
}

type Decl = { kind: 'param'; fn: ts.FunctionLikeDeclaration; index: number; param: ts.ParameterDeclaration } | { kind: 'var'; decl: ts.VariableDeclaration; scope: ts.Node };

/** The declaration an identifier refers to, looked up through the enclosing scopes of this file. */
function declarationOf(id: ts.Identifier): Decl | undefined {
  for (let n: ts.Node | undefined = id.parent; n; n = n.parent) {
    if (isFunctionLike(n)) {
      const index = n.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === id.text);
      if (index >= 0) return { kind: 'param', fn: n, index, param: n.parameters[index] };
    }
    if (ts.isBlock(n) || ts.isSourceFile(n) || ts.isModuleBlock(n) || ts.isCaseClause(n) || ts.isDefaultClause(n)) {
      for (const st of n.statements) {
        if (!ts.isVariableStatement(st)) continue;
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === id.text) return { kind: 'var', decl: d, scope: n };
      }
    }
  }
  return undefined;
}

interface Resolved {
  codes: string[];
  dynamic: ts.Expression[];
  params: { fn: ts.FunctionLikeDeclaration; index: number; param: ts.ParameterDeclaration; expr: ts.Expression }[];
}

/** Reduces a code expression to its string literals; what cannot be reduced is reported. */
function resolveCode(expr: ts.Expression, depth = 0): Resolved {
  const out: Resolved = { codes: [], dynamic: [], params: [] };
  const merge = (r: Resolved) => {
    out.codes.push(...r.codes);
    out.dynamic.push(...r.dynamic);
    out.params.push(...r.params);
  };
  const e = unwrap(expr);
  const literal = stringOf(e);
  if (literal !== undefined) {
    if (CODE_SHAPE.test(literal)) out.codes.push(literal);
    else out.dynamic.push(e);
  } else if (e.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(e) && e.text === 'undefined')) {
    // no code
  } else if (ts.isConditionalExpression(e)) {
    merge(resolveCode(e.whenTrue, depth + 1));
    merge(resolveCode(e.whenFalse, depth + 1));
  } else if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
    merge(resolveCode(e.left, depth + 1));
    merge(resolveCode(e.right, depth + 1));
  } else if (ts.isIdentifier(e) && depth < 8) {
    const d = declarationOf(e);
    if (d?.kind === 'param') out.params.push({ ...d, expr: e });
    else if (d?.kind === 'var' && d.decl.initializer) {
      merge(resolveCode(d.decl.initializer, depth + 1));
      // A `let` reassigned in its scope: every assigned value counts.
      if (!(d.decl.parent.flags & ts.NodeFlags.Const)) {
        const visit = (n: ts.Node): void => {
          if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(n.left) && n.left.text === e.text) merge(resolveCode(n.right, depth + 1));
          ts.forEachChild(n, visit);
        };
        visit(d.scope);
      }
    } else out.dynamic.push(e);
  } else out.dynamic.push(e);
  return out;
}

/** The literal `type` in a GatewayError's options argument (`{ type: 'server_error' }`). */
function explicitType(opts: ts.Expression | undefined): string | undefined {
  if (!opts) return undefined;
  const o = unwrap(opts);
  return ts.isObjectLiteralExpression(o) ? stringOf(objectValue(o, 'type')) : undefined;
}

/** The status of an error object: its own `status`, or an enclosing object's `status_code` (Envoy's local reply mappers). */
function objectStatus(obj: ts.ObjectLiteralExpression): number | undefined {
  const own = numberOf(objectValue(obj, 'status'));
  if (own !== undefined) return own;
  for (let n: ts.Node | undefined = obj.parent; n; n = n.parent) {
    if (ts.isObjectLiteralExpression(n)) {
      const s = numberOf(objectValue(n, 'status_code'));
      if (s !== undefined) return s;
    }
    if (isFunctionLike(n)) break;
  }
  return undefined;
}

interface SourceText {
  /** Path relative to the repository root, with forward slashes. */
  file: string;
  text: string;
}

/** Scans source texts for every error code they can send (see the header comment). */
function scanErrorCodes(files: SourceText[]): ScanResult {
  const parsed = files.map((f) => ({ file: f.file, sf: ts.createSourceFile(f.file, f.text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS) }));
  const wrappers = new Map<string, Wrapper>();
  let result: ScanResult = { sites: [], dynamic: [] };

  // Wrappers are found while scanning calls, and wrappers of wrappers on the next round.
  for (let round = 0; round < 5; round++) {
    const known = wrappers.size;
    result = { sites: [], dynamic: [] };
    for (const { file, sf } of parsed) scanFile(file, sf, wrappers, result);
    if (wrappers.size === known) break;
  }
  const key = (s: CodeSite) => `${s.file}:${s.line}:${s.code}:${s.via}:${s.status}:${s.type}`;
  result.sites = [...new Map(result.sites.map((s) => [key(s), s])).values()];
  result.dynamic = [...new Map(result.dynamic.map((d) => [`${d.file}:${d.line}:${d.expr}`, d])).values()];
  return result;
}

function scanFile(file: string, sf: ts.SourceFile, wrappers: Map<string, Wrapper>, out: ScanResult): void {
  const source = sourceOf(file);
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const add = (node: ts.Node, code: string, via: Via, status?: number, type?: string) =>
    out.sites.push({ code, file, line: lineOf(node), source, via, ...(status !== undefined ? { status } : {}), ...(type !== undefined ? { type } : {}) });
  const dynamic = (e: ts.Expression) => out.dynamic.push({ file, line: lineOf(e), expr: e.getText(sf) });

  /** A code argument of GatewayError, errorBody or a wrapper. */
  const codeArgument = (codeArg: ts.Expression, statusArg: ts.Expression | undefined, via: Via, fixedStatus?: number, type?: string) => {
    const status = fixedStatus ?? numberOf(statusArg);
    const r = resolveCode(codeArg);
    for (const c of r.codes) add(codeArg, c, via, status, type);
    r.dynamic.forEach(dynamic);
    for (const p of r.params) {
      // The enclosing function passes its own parameter on as the code: a wrapper.
      const name = functionName(p.fn);
      if (!name) {
        dynamic(codeArg);
        continue;
      }
      const s = statusArg && unwrap(statusArg);
      const statusDecl = s && ts.isIdentifier(s) ? declarationOf(s) : undefined;
      const w: Wrapper = { codeIndex: p.index };
      if (statusDecl?.kind === 'param' && statusDecl.fn === p.fn) w.statusIndex = statusDecl.index;
      else if (status !== undefined) w.fixedStatus = status;
      wrappers.set(name, w);
      if (p.param.initializer) {
        const d = resolveCode(p.param.initializer);
        for (const c of d.codes) add(p.param.initializer, c, 'default', w.fixedStatus, type);
        d.dynamic.forEach(dynamic);
      }
    }
  };

  const visit = (n: ts.Node): void => {
    if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'GatewayError' && n.arguments && n.arguments.length >= 2) {
      codeArgument(n.arguments[1], n.arguments[0], 'GatewayError', undefined, explicitType(n.arguments[3]));
    } else if (ts.isCallExpression(n) && ts.isIdentifier(n.expression)) {
      const name = n.expression.text;
      if (name === 'errorBody' && n.arguments.length >= 2) codeArgument(n.arguments[1], n.arguments[0], 'errorBody');
      const w = wrappers.get(name);
      if (w && n.arguments.length > w.codeIndex) {
        const statusArg = w.statusIndex !== undefined ? n.arguments[w.statusIndex] : undefined;
        codeArgument(n.arguments[w.codeIndex], statusArg, 'wrapper', w.fixedStatus);
      }
    }

    // Error-shaped object literals: `{ code: 'x', message: ... }`, `{ type: 'y', code: 'x' }`.
    if (ts.isObjectLiteralExpression(n)) {
      const codeValue = objectValue(n, 'code');
      if (codeValue && (objectProp(n, 'type') || objectProp(n, 'message'))) {
        const r = resolveCode(codeValue);
        const type = stringOf(objectValue(n, 'type'));
        for (const c of r.codes) add(codeValue, c, 'error-object', objectStatus(n), type);
        // Only a value that is literal in part is a code site; `code: e.code` copies one along.
        if (r.codes.length > 0 || stringOf(codeValue) !== undefined) r.dynamic.forEach(dynamic);
      }
    }

    if (isProviderResponse(file)) {
      // Status → code tables: `const CODES: Record<number, string> = { 400: 'x', ... }`.
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && /CODE/.test(n.name.text) && n.initializer && ts.isObjectLiteralExpression(unwrap(n.initializer))) {
        for (const p of (unwrap(n.initializer) as ts.ObjectLiteralExpression).properties) {
          if (!ts.isPropertyAssignment(p) || !ts.isNumericLiteral(p.name)) continue;
          const code = stringOf(p.initializer);
          if (code !== undefined && CODE_SHAPE.test(code)) add(p.initializer, code, 'status-table', Number(p.name.text));
        }
      }
      // `[type, code]` tuples.
      if (ts.isArrayLiteralExpression(n) && n.elements.length === 2) {
        const type = stringOf(n.elements[0]);
        if (type !== undefined && ERROR_TYPES.has(type)) {
          const r = resolveCode(n.elements[1]);
          for (const c of r.codes) add(n.elements[1], c, 'type-tuple', undefined, type);
          r.dynamic.forEach(dynamic);
        }
      }
      // `code = ...` and `let code = ...`: literal leaves; table reads are covered by the tables.
      const assigned =
        ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(n.left) && n.left.text === 'code'
          ? n.right
          : ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'code'
            ? n.initializer
            : undefined;
      if (assigned) {
        const r = resolveCode(assigned);
        for (const c of r.codes) add(assigned, c, 'assignment');
        for (const d of r.dynamic) if (!ts.isElementAccessExpression(d) && !ts.isPropertyAccessExpression(d)) dynamic(d);
        // A parameter assigned to `code` passes the caller's value through.
        for (const p of r.params) dynamic(p.expr);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

/**
 * Code expressions the scanner cannot reduce to literals, by file and source text, with the codes
 * they produce (checked against the catalogue like scanned ones) or why they pass a value through.
 */
const KNOWN_DYNAMIC: { file: string; expr: string; codes?: string[]; passthrough?: string }[] = [
  // FAILURES table in the same file (scanned as error objects).
  { file: 'plugins/virtual-keys/index.ts', expr: 'FAILURES[r.reason].code', codes: ['invalid_api_key', 'revoked_api_key', 'expired_api_key'] },
  // ValidationProblem codes from plugins/request-validation/validator.ts (scanned as error objects).
  { file: 'plugins/request-validation/index.ts', expr: 'problem.code', codes: ['missing_required_parameter', 'invalid_type', 'invalid_value'] },
  // r.reason is 'revoked' or 'expired' here ('invalid' takes the other branch).
  { file: 'src/admin/auth.ts', expr: '`${r.reason}_api_key`', codes: ['revoked_api_key', 'expired_api_key'] },
  { file: 'src/envoy/config/local-reply.ts', expr: "'%RESPONSE_CODE_DETAILS%'", passthrough: "Envoy's response code details for any other reply Envoy generates" },
  { file: 'src/providers/anthropic/response.ts', expr: 'nativeType', passthrough: "Anthropic's own error type, for a type the gateway does not know and a status below 500" },
  { file: 'src/providers/google/response.ts', expr: 'status.toLowerCase()', passthrough: "Google's canonical status, lower-cased, for one the gateway does not map and an HTTP status below 500" },
];

function sourceFiles(): SourceText[] {
  const out: SourceText[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(rel);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts') && rel !== 'src/domain/error-codes.ts') {
        out.push({ file: rel, text: fs.readFileSync(path.join(ROOT, rel), 'utf8') });
      }
    }
  };
  walk('src');
  walk('plugins');
  return out;
}

const list = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);
const catalogue = ERROR_CODES as Record<string, ErrorCodeInfo>;
const codes = Object.keys(ERROR_CODES) as ErrorCode[];
const where = (s: { file: string; line: number }) => `${s.file}:${s.line}`;

/** The problems of a scan against the catalogue, one readable line each. */
function problemsOf(scan: ScanResult, known = KNOWN_DYNAMIC): string[] {
  const problems: string[] = [];
  for (const s of scan.sites) {
    const info = catalogue[s.code];
    if (!info) {
      problems.push(`${where(s)}: code '${s.code}' is not in ERROR_CODES (src/domain/error-codes.ts)`);
      continue;
    }
    if (!list(info.source).includes(s.source)) problems.push(`${where(s)}: '${s.code}' is sent by the ${s.source} but its source is ${list(info.source).join(', ')}`);
    if (s.status !== undefined && !list(info.status).includes(s.status)) problems.push(`${where(s)}: '${s.code}' is sent with status ${s.status}, not in its status ${list(info.status).join(', ')}`);
    const types = list(info.type) as readonly string[];
    if (s.type !== undefined && !types.includes(s.type)) problems.push(`${where(s)}: '${s.code}' is sent with type ${s.type}, not in its type ${types.join(', ')}`);
    // What GatewayError and errorBody derive from the status when no type is passed.
    const derives = s.via === 'GatewayError' || s.via === 'errorBody' || s.via === 'wrapper' || s.via === 'default';
    if (derives && s.type === undefined && s.status !== undefined && !types.includes(errorType(s.status, s.code))) {
      problems.push(`${where(s)}: '${s.code}' gets type ${errorType(s.status, s.code)} from status ${s.status}, not in its type ${types.join(', ')}`);
    }
  }
  for (const d of scan.dynamic) {
    const k = known.find((x) => x.file === d.file && x.expr === d.expr);
    if (!k) problems.push(`${where(d)}: the code \`${d.expr}\` is not a literal: make it one, or list it in KNOWN_DYNAMIC with the codes it produces`);
    else for (const c of k.codes ?? []) if (!catalogue[c]) problems.push(`${where(d)}: code '${c}' (from \`${d.expr}\`) is not in ERROR_CODES`);
  }
  return problems;
}

describe('error code catalogue', () => {
  const scan = scanErrorCodes(sourceFiles());

  test('the scan finds the code sites of every kind (sanity)', () => {
    const vias = new Set(scan.sites.map((s) => s.via));
    for (const v of ['GatewayError', 'errorBody', 'wrapper', 'default', 'error-object', 'status-table', 'type-tuple', 'assignment'] as Via[]) expect(vias).toContain(v);
    const sources = new Set(scan.sites.map((s) => s.source));
    expect([...sources].sort()).toEqual(['envoy', 'gateway', 'provider']);
    // A multi-line `new GatewayError(\n 500,\n cond ? 'plugin_timeout' : 'plugin_error', ...)`.
    expect(scan.sites.filter((s) => s.file === 'src/plugins/host.ts').map((s) => s.code).sort()).toEqual(['plugin_error', 'plugin_timeout']);
  });

  test('every code the gateway, Envoy or a provider mapping sends is catalogued, with its source, status and type', () => {
    expect(problemsOf(scan)).toEqual([]);
  });

  test('KNOWN_DYNAMIC lists only expressions that are still in the code', () => {
    const stale = KNOWN_DYNAMIC.filter((k) => !scan.dynamic.some((d) => d.file === k.file && d.expr === k.expr)).map((k) => `${k.file}: ${k.expr}`);
    expect(stale).toEqual([]);
  });

  test('every catalogue entry is still sent somewhere, by each of its sources (no stale entries)', () => {
    const seen = new Map<string, Set<ErrorSource>>();
    const see = (code: string, source: ErrorSource) => seen.set(code, (seen.get(code) ?? new Set()).add(source));
    for (const s of scan.sites) see(s.code, s.source);
    for (const d of scan.dynamic) for (const c of KNOWN_DYNAMIC.find((k) => k.file === d.file && k.expr === d.expr)?.codes ?? []) see(c, sourceOf(d.file));
    const stale: string[] = [];
    for (const code of codes) {
      for (const src of list(catalogue[code].source)) if (!seen.get(code)?.has(src)) stale.push(`${code} (${src})`);
    }
    expect(stale).toEqual([]);
  });

  test("each entry's statuses are seen in the code, unless a site's status is not a literal", () => {
    const unverified: string[] = [];
    for (const code of codes) {
      const sites = scan.sites.filter((s) => s.code === code);
      const anyStatus = sites.some((s) => s.status === undefined) || KNOWN_DYNAMIC.some((k) => k.codes?.includes(code));
      for (const st of list(catalogue[code].status)) if (!anyStatus && !sites.some((s) => s.status === st)) unverified.push(`${code}: ${st}`);
    }
    expect(unverified).toEqual([]);
  });

  test("each entry's type is what GatewayError/errorBody derive from its status, or one a site passes explicitly", () => {
    const wrong: string[] = [];
    for (const code of codes) {
      const info = catalogue[code];
      const types = list(info.type) as readonly string[];
      const explicit = new Set(scan.sites.filter((s) => s.code === code && s.type !== undefined).map((s) => s.type));
      const derived = new Set(list(info.status).map((st) => errorType(st, code)));
      // Every status has its derived type listed, or the code passes its type explicitly somewhere.
      for (const st of list(info.status)) if (!types.includes(errorType(st, code)) && explicit.size === 0) wrong.push(`${code}: status ${st} gives ${errorType(st, code)}, type is ${types.join(', ')}`);
      // Every listed type comes from a status or from an explicit site.
      for (const t of types) if (!derived.has(t as OpenAIErrorType) && !explicit.has(t)) wrong.push(`${code}: type ${t} comes from none of its statuses nor any explicit type`);
    }
    expect(wrong).toEqual([]);
  });

  test('entries are well formed', () => {
    for (const code of codes) {
      const info = catalogue[code];
      expect(code).toMatch(CODE_SHAPE);
      for (const st of list(info.status)) expect(st >= 400 && st <= 599).toBe(true);
      for (const t of list(info.type)) expect(ERROR_TYPES.has(t)).toBe(true);
      expect(list(info.source).length).toBeGreaterThan(0);
      expect(info.meaning.length).toBeGreaterThan(10);
      expect(info.meaning).not.toMatch(/\n/);
    }
    // The catalogue's type union covers OpenAIErrorType.
    const covers: OpenAIErrorType extends ErrorCodeType ? true : false = true;
    expect(covers).toBe(true);
  });

  test('docs/errors.md has one table per source listing exactly the catalogue, with the same status and type', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
    const sections: Record<ErrorSource, string> = { gateway: '## Sent by the gateway', envoy: '## Sent by Envoy', provider: "## Mapped from a provider's error" };
    const problems: string[] = [];
    for (const [src, heading] of Object.entries(sections) as [ErrorSource, string][]) {
      const start = doc.indexOf(`\n${heading}`);
      if (start < 0) {
        problems.push(`missing section "${heading}"`);
        continue;
      }
      const next = doc.indexOf('\n## ', start + 1);
      const body = doc.slice(start, next < 0 ? undefined : next);
      const rows = body.split('\n').filter((l) => /^\|\s*`[a-z0-9_]+`\s*\|/.test(l));
      const listed = new Map(rows.map((r) => [/`([a-z0-9_]+)`/.exec(r)![1], r.split('|').map((c) => c.trim())]));
      const expected = codes.filter((c) => list(catalogue[c].source).includes(src));
      for (const c of expected) if (!listed.has(c)) problems.push(`${heading}: '${c}' is missing`);
      for (const [c, cells] of listed) {
        const info = catalogue[c];
        if (!info || !list(info.source).includes(src)) {
          problems.push(`${heading}: '${c}' is listed but the catalogue does not say the ${src} sends it`);
          continue;
        }
        const [, , status, type] = cells;
        const statuses = (status.match(/\b\d{3}\b/g) ?? []).map(Number).sort();
        if (statuses.join() !== [...list(info.status)].sort().join()) problems.push(`${heading}: '${c}' status "${status}" ≠ ${list(info.status).join(', ')}`);
        const types = (type.match(/[a-z_]+/g) ?? []).sort();
        if (types.join() !== [...list(info.type)].sort().join()) problems.push(`${heading}: '${c}' type "${type}" ≠ ${list(info.type).join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the scanner can fail', () => {
  const fixture = (text: string, file = 'plugins/fixture/index.ts') => scanErrorCodes([{ file, text }]);

  test('reports an uncatalogued code passed to GatewayError across lines, in a ternary and through a wrapper', () => {
    const scan = fixture(`
      import { GatewayError, errorBody } from '../../src';
      const refuse = (status: number, code: string, message: string) => new GatewayError(status, code, message);
      export function f(x: boolean) {
        if (x) throw new GatewayError(
          418,
          x ? 'teapot_refused' : 'model_not_found',
          'no',
        );
        const code = x ? 'kettle_boiling' : 'invalid_value';
        errorBody(400, code, 'no');
        throw refuse(402, 'payment_wanted', 'no');
      }
      const TABLE = { a: { code: 'table_code', message: 'm' } };
      export const g = (k: 'a') => new GatewayError(400, TABLE[k].code, 'm');
    `);
    const problems = problemsOf(scan);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/:7: code 'teapot_refused' is not in ERROR_CODES/),
        expect.stringMatching(/code 'kettle_boiling' is not in ERROR_CODES/),
        expect.stringMatching(/code 'payment_wanted' is not in ERROR_CODES/),
        expect.stringMatching(/code 'table_code' is not in ERROR_CODES/),
        expect.stringMatching(/the code `TABLE\[k\]\.code` is not a literal/),
        // model_not_found is a 404: at 418 it is the wrong status.
        expect.stringMatching(/'model_not_found' is sent with status 418/),
      ]),
    );
    expect(problems.some((p) => p.includes("'invalid_value' is not"))).toBe(false);
  });

  test('reports a wrong explicit type and a code sent by the wrong source', () => {
    const scan = fixture(`const SPECS = [{ status: 404, type: 'server_error', code: 'model_not_found', message: 'x' }];`, 'src/envoy/config/fixture.ts');
    expect(problemsOf(scan)).toEqual([
      "src/envoy/config/fixture.ts:1: 'model_not_found' is sent by the envoy but its source is gateway, provider",
      "src/envoy/config/fixture.ts:1: 'model_not_found' is sent with type server_error, not in its type not_found_error",
    ]);
  });

  test('reads provider status tables and type tuples', () => {
    const scan = fixture(
      `const CODES: Record<number, string> = { 400: 'brand_new_code' };
       const ERRORS = { X: ['server_error', 'other_new_code'] };
       let code = 'third_new_code';`,
      'src/providers/fixture/response.ts',
    );
    expect(scan.sites.map((s) => [s.code, s.via, s.source, s.status ?? s.type])).toEqual([
      ['brand_new_code', 'status-table', 'provider', 400],
      ['other_new_code', 'type-tuple', 'provider', 'server_error'],
      ['third_new_code', 'assignment', 'provider', undefined],
    ]);
  });
});
