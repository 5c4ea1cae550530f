import type { RE2 as RE2Type } from 're2-wasm';
import { PII_KINDS, piiPatterns, type PiiKind } from './builtins/pii';
import { PROMPT_INJECTION, SQL_INJECTION } from './builtins/injection';
import { SECRET_KINDS, secretPatterns, type SecretKind } from './builtins/secrets';
import { escapeRegExp, patternDetector, type Detector, type Matcher } from './patterns';

export const BUILTIN_DETECTORS = ['sql_injection', 'prompt_injection', 'secrets', 'pii'] as const;
export const DETECTOR_TYPES = ['regex', 'keywords', ...BUILTIN_DETECTORS] as const;
export type DetectorType = (typeof DETECTOR_TYPES)[number];

export type DetectorSpec =
  | { type: 'regex'; pattern: string; flags?: string; name?: string }
  | { type: 'keywords'; words: string[]; whole_words?: boolean; name?: string }
  | { type: 'sql_injection' | 'prompt_injection'; name?: string }
  | { type: 'secrets'; kinds?: SecretKind[]; name?: string }
  | { type: 'pii'; kinds?: PiiKind[]; name?: string };

export { PII_KINDS, SECRET_KINDS };
export type { PiiKind, SecretKind };

/** A detector option that cannot be compiled; `field` is the key at fault (`pattern`, `words`...). */
export class DetectorError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DetectorLimits {
  /** Longest accepted `regex` pattern, in characters. */
  maxPatternLength: number;
}

/** Flags a `regex` detector may use; `g` and `u` are always on. */
const REGEX_FLAGS = /^[imsu]*$/;

/**
 * User patterns run on RE2 (WebAssembly), whose matching time is linear in the input whatever
 * the pattern: a rule like `(a+)+$` cannot stall the processor. RE2 has no lookaround or
 * backreferences; such patterns are refused when the rule is validated.
 */
let re2: typeof RE2Type | undefined;

/**
 * re2-wasm, loaded with the first user pattern: its WebAssembly memory is about 17 MB of
 * external memory (8 MB resident at once), paid only by gateways that have `regex` rules.
 */
function loadRE2(): typeof RE2Type {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (re2 ??= (require('re2-wasm') as typeof import('re2-wasm')).RE2);
}

function compileUserRegex(pattern: string, flags: string, limits: DetectorLimits): Matcher {
  if (pattern.length === 0) throw new DetectorError('pattern', 'must not be empty');
  if (pattern.length > limits.maxPatternLength) {
    throw new DetectorError('pattern', `is longer than the ${limits.maxPatternLength} characters allowed`);
  }
  if (!REGEX_FLAGS.test(flags) || new Set(flags).size !== flags.length) {
    throw new DetectorError('flags', 'may only contain i, m, s and u, each once');
  }
  try {
    const RE2 = loadRE2();
    return new RE2(pattern, `g${flags.includes('u') ? flags : `${flags}u`}`) as unknown as Matcher;
  } catch (err) {
    // RE2's message names the construct (lookbehind, backreference...) it does not support.
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    throw new DetectorError('pattern', `is not a valid regular expression for the linear-time matcher (RE2): ${why}`);
  }
}

/** Case-insensitive keywords; whole words by default (letters and digits around do not count). */
function keywordMatcher(words: string[], wholeWords: boolean): Matcher {
  if (words.length === 0) throw new DetectorError('words', 'must list at least one keyword');
  // Longest first, so `data breach` wins over `data`; whitespace inside a phrase matches any run.
  const alternatives = [...new Set(words.map((w) => w.trim()))]
    .filter((w) => w.length > 0)
    .sort((a, b) => b.length - a.length)
    .map((w) => w.split(/\s+/).map(escapeRegExp).join('\\s{1,8}'));
  if (alternatives.length === 0) throw new DetectorError('words', 'must list at least one non-blank keyword');
  const body = `(?:${alternatives.join('|')})`;
  const source = wholeWords ? `(?<![\\p{L}\\p{N}_])${body}(?![\\p{L}\\p{N}_])` : body;
  return new RegExp(source, 'giu');
}

export function buildDetector(spec: DetectorSpec, limits: DetectorLimits): Detector {
  switch (spec.type) {
    case 'regex':
      return patternDetector([{ re: compileUserRegex(spec.pattern, spec.flags ?? '', limits), label: spec.name ?? 'regex' }]);
    case 'keywords':
      return patternDetector([{ re: keywordMatcher(spec.words, spec.whole_words ?? true), label: spec.name ?? 'keywords' }]);
    case 'sql_injection':
      return relabel(patternDetector(SQL_INJECTION), spec.name);
    case 'prompt_injection':
      return relabel(patternDetector(PROMPT_INJECTION), spec.name);
    case 'secrets':
      return relabel(patternDetector(secretPatterns(spec.kinds ?? SECRET_KINDS)), spec.name);
    case 'pii':
      return relabel(patternDetector(piiPatterns(spec.kinds ?? PII_KINDS)), spec.name);
  }
}

/** A detector given its own `name` reports that instead of its built-in labels. */
function relabel(d: Detector, name: string | undefined): Detector {
  if (!name) return d;
  return {
    find(text, out) {
      const from = out.length;
      d.find(text, out);
      for (let i = from; i < out.length; i++) out[i]!.label = name;
    },
  };
}
