import { JSONPath } from 'jsonpath-plus';
import type { SettingsProblem } from '../../../src/domain';
import {
  buildDetector,
  DetectorError,
  DETECTOR_TYPES,
  PII_KINDS,
  SECRET_KINDS,
  type DetectorLimits,
  type DetectorSpec,
  type DetectorType,
} from './detectors';
import type { Detector } from './patterns';

/**
 * The rule-set format of `security.content_filters` (and of PUT /v1/security/config), and its
 * validation. Every problem is reported as `{param, message}` with the path of the offending
 * key, e.g. `content_filters[1].rules[0].pattern`, so an admin can find it.
 */

export type Action = 'block' | 'redact' | 'flag';
export type Target = 'request' | 'response' | 'both';

export interface RuleSpec {
  name: string;
  target: Target;
  /** JSONPath expressions; undefined: the direction's defaults. */
  paths: string[] | undefined;
  detectors: DetectorSpec[];
  /** The detectors, compiled once while validating. */
  compiled: Detector[];
  action: Action;
  mask: string | undefined;
}

export interface RuleSetSpec {
  name: string;
  enabled: boolean;
  rules: RuleSpec[];
}

export const ACTIONS: readonly Action[] = ['block', 'redact', 'flag'];
export const TARGETS: readonly Target[] = ['request', 'response', 'both'];

/** Rule and set names end up in metrics labels and error messages: short and plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const MAX_RULES = 500;
const MAX_PATHS = 16;
const MAX_PATH_LENGTH = 512;
const MAX_KEYWORDS = 1000;
const MAX_KEYWORD_LENGTH = 200;
const MAX_MASK_LENGTH = 200;

const SET_KEYS = new Set(['name', 'description', 'enabled', 'rules']);
const RULE_KEYS = new Set(['name', 'description', 'target', 'paths', 'detectors', 'pattern', 'flags', 'keywords', 'action', 'mask']);
const DETECTOR_KEYS: Record<DetectorType, Set<string>> = {
  regex: new Set(['type', 'name', 'pattern', 'flags']),
  keywords: new Set(['type', 'name', 'words', 'whole_words']),
  sql_injection: new Set(['type', 'name']),
  prompt_injection: new Set(['type', 'name']),
  secrets: new Set(['type', 'name', 'kinds']),
  pii: new Set(['type', 'name', 'kinds']),
};

/** Bodies the paths are tried on when validated: a path that throws on them is refused. */
const PROBES = [
  { model: 'm', messages: [{ role: 'user', content: 'x' }, { role: 'user', content: [{ type: 'text', text: 'x' }] }], prompt: 'x', input: 'x' },
  { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }] },
];

class Problem extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function object(v: unknown, at: string, keys: Set<string>): Obj {
  if (!isObject(v)) throw new Problem(at, 'must be an object');
  for (const k of Object.keys(v)) if (!keys.has(k)) throw new Problem(`${at}.${k}`, `unknown key; expected one of ${[...keys].join(', ')}`);
  return v;
}

function name(v: unknown, at: string): string {
  if (typeof v !== 'string' || !NAME.test(v)) {
    throw new Problem(at, 'must be 1 to 64 letters, digits, `_`, `.`, `:` or `-`, starting with a letter or digit');
  }
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], at: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Problem(at, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function optionalString(v: unknown, at: string, max: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new Problem(at, `must be a string of at most ${max} characters`);
  return v;
}

function stringList(v: unknown, at: string, max: number, maxLength: number): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) throw new Problem(at, `must be a list of 1 to ${max} strings`);
  return v.map((s, i) => {
    if (typeof s !== 'string' || s.trim() === '' || s.length > maxLength) {
      throw new Problem(`${at}[${i}]`, `must be a non-empty string of at most ${maxLength} characters`);
    }
    return s;
  });
}

function jsonPath(v: unknown, at: string): string {
  if (typeof v !== 'string' || !v.startsWith('$') || v.length > MAX_PATH_LENGTH) {
    throw new Problem(at, `must be a JSONPath expression starting with \`$\`, at most ${MAX_PATH_LENGTH} characters`);
  }
  for (const json of PROBES) {
    try {
      JSONPath({ path: v, json, eval: 'safe', wrap: true });
    } catch (err) {
      throw new Problem(at, `is not a usable JSONPath expression: ${(err as Error).message}`);
    }
  }
  return v;
}

function detector(v: unknown, at: string, limits: DetectorLimits): { spec: DetectorSpec; compiled: Detector } {
  const spec: Obj = typeof v === 'string' ? { type: v } : isObject(v) ? v : {};
  if (typeof v !== 'string' && !isObject(v)) throw new Problem(at, 'must be a built-in detector name or an object with a `type`');
  const type = oneOf(spec.type, DETECTOR_TYPES, typeof v === 'string' ? at : `${at}.type`);
  object(spec, at, DETECTOR_KEYS[type]);
  const label = spec.name === undefined ? undefined : name(spec.name, `${at}.name`);
  let out: DetectorSpec;
  switch (type) {
    case 'regex':
      if (typeof spec.pattern !== 'string') throw new Problem(`${at}.pattern`, 'is required: a regular expression');
      if (spec.flags !== undefined && typeof spec.flags !== 'string') throw new Problem(`${at}.flags`, 'must be a string');
      out = { type, pattern: spec.pattern, flags: spec.flags as string | undefined, name: label };
      break;
    case 'keywords':
      if (spec.whole_words !== undefined && typeof spec.whole_words !== 'boolean') throw new Problem(`${at}.whole_words`, 'must be a boolean');
      out = { type, words: stringList(spec.words, `${at}.words`, MAX_KEYWORDS, MAX_KEYWORD_LENGTH), whole_words: spec.whole_words as boolean | undefined, name: label };
      break;
    case 'secrets':
      out = { type, kinds: spec.kinds === undefined ? undefined : kinds(spec.kinds, SECRET_KINDS, `${at}.kinds`), name: label };
      break;
    case 'pii':
      out = { type, kinds: spec.kinds === undefined ? undefined : kinds(spec.kinds, PII_KINDS, `${at}.kinds`), name: label };
      break;
    default:
      out = { type, name: label };
  }
  return { spec: out, compiled: build(out, at, limits) };
}

function build(spec: DetectorSpec, at: string, limits: DetectorLimits): Detector {
  try {
    return buildDetector(spec, limits);
  } catch (err) {
    if (err instanceof DetectorError) throw new Problem(`${at}.${err.field}`, err.message);
    throw err;
  }
}

function kinds<T extends string>(v: unknown, allowed: readonly T[], at: string): T[] {
  if (!Array.isArray(v) || v.length === 0) throw new Problem(at, `must be a non-empty list of: ${allowed.join(', ')}`);
  return v.map((k, i) => oneOf(k, allowed, `${at}[${i}]`));
}

function rule(v: unknown, at: string, limits: DetectorLimits): RuleSpec {
  const r = object(v, at, RULE_KEYS);
  const ruleName = name(r.name, `${at}.name`);
  const detectors: DetectorSpec[] = [];
  const compiled: Detector[] = [];
  if (r.detectors !== undefined) {
    if (!Array.isArray(r.detectors)) throw new Problem(`${at}.detectors`, 'must be a list of detectors');
    r.detectors.forEach((d, i) => {
      const { spec, compiled: c } = detector(d, `${at}.detectors[${i}]`, limits);
      detectors.push(spec);
      compiled.push(c);
    });
  }
  // Shorthands: `pattern` (+ `flags`) and `keywords` on the rule itself.
  if (r.pattern !== undefined) {
    if (typeof r.pattern !== 'string') throw new Problem(`${at}.pattern`, 'must be a string');
    if (r.flags !== undefined && typeof r.flags !== 'string') throw new Problem(`${at}.flags`, 'must be a string');
    const spec: DetectorSpec = { type: 'regex', pattern: r.pattern, flags: r.flags as string | undefined };
    compiled.push(build(spec, at, limits));
    detectors.push(spec);
  } else if (r.flags !== undefined) {
    throw new Problem(`${at}.flags`, 'only applies together with `pattern`');
  }
  if (r.keywords !== undefined) {
    const spec: DetectorSpec = { type: 'keywords', words: stringList(r.keywords, `${at}.keywords`, MAX_KEYWORDS, MAX_KEYWORD_LENGTH) };
    compiled.push(build(spec, `${at}.keywords`, limits));
    detectors.push(spec);
  }
  if (detectors.length === 0) throw new Problem(`${at}.detectors`, 'a rule needs at least one detector (`detectors`, `pattern` or `keywords`)');
  if (r.action === undefined) throw new Problem(`${at}.action`, `is required: one of ${ACTIONS.join(', ')}`);
  return {
    name: ruleName,
    target: r.target === undefined ? 'both' : oneOf(r.target, TARGETS, `${at}.target`),
    paths: r.paths === undefined ? undefined : stringList(r.paths, `${at}.paths`, MAX_PATHS, MAX_PATH_LENGTH).map((p, i) => jsonPath(p, `${at}.paths[${i}]`)),
    detectors,
    compiled,
    action: oneOf(r.action, ACTIONS, `${at}.action`),
    mask: optionalString(r.mask, `${at}.mask`, MAX_MASK_LENGTH),
  };
}

export type ParseResult = { ok: true; sets: RuleSetSpec[] } | { ok: false; problem: SettingsProblem };

/**
 * Recent results by content. Validating a PUT and then applying the (cloned) settings it
 * accepted compiles the rules once, not twice; RE2 programs live in WebAssembly memory that is
 * never reclaimed, so recompiling the same rules on every change would slowly leak.
 */
const recent = new Map<string, ParseResult>();
const RECENT_MAX = 8;

/** Validates `content_filters` (the rule sets) and returns them normalised and compiled, or the first problem. */
export function parseContentFilters(value: unknown, limits: DetectorLimits): ParseResult {
  let key: string | undefined;
  try {
    key = `${limits.maxPatternLength}:${JSON.stringify(value)}`;
  } catch {
    key = undefined;
  }
  const hit = key === undefined ? undefined : recent.get(key);
  if (hit) return hit;
  const result = parseUncached(value, limits);
  if (key !== undefined) {
    recent.set(key, result);
    if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value!);
  }
  return result;
}

function parseUncached(value: unknown, limits: DetectorLimits): ParseResult {
  try {
    if (!Array.isArray(value)) throw new Problem('content_filters', 'must be a list of rule sets');
    const seen = new Set<string>();
    let total = 0;
    const sets = value.map((v, i): RuleSetSpec => {
      const at = `content_filters[${i}]`;
      const s = object(v, at, SET_KEYS);
      const setName = name(s.name, `${at}.name`);
      if (s.enabled !== undefined && typeof s.enabled !== 'boolean') throw new Problem(`${at}.enabled`, 'must be a boolean');
      optionalString(s.description, `${at}.description`, 1000);
      if (!Array.isArray(s.rules)) throw new Problem(`${at}.rules`, 'must be a list of rules');
      const rules = s.rules.map((r, j) => {
        const parsed = rule(r, `${at}.rules[${j}]`, limits);
        // Rules are named in metrics, logs, audit records and errors: one name, one rule.
        if (seen.has(parsed.name)) throw new Problem(`${at}.rules[${j}].name`, `duplicate rule name \`${parsed.name}\`; rule names must be unique across rule sets`);
        seen.add(parsed.name);
        return parsed;
      });
      total += rules.length;
      if (total > MAX_RULES) throw new Problem(`${at}.rules`, `too many rules: at most ${MAX_RULES} in all`);
      return { name: setName, enabled: s.enabled !== false, rules };
    });
    return { ok: true, sets };
  } catch (err) {
    if (err instanceof Problem) return { ok: false, problem: { param: err.param, message: err.message } };
    throw err;
  }
}
