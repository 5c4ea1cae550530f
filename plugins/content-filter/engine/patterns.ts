/**
 * Running global patterns over text. Built-in detectors use V8 regular expressions written
 * with bounded quantifiers (no nested repetition), so each is linear in the text; user
 * patterns run on RE2, which is linear by construction. Both satisfy `Matcher`.
 */

export interface Finding {
  /** UTF-16 offsets into the scanned text, end exclusive. */
  start: number;
  end: number;
  /** What was found (`email`, `secrets`, a detector's own name...): used in masks and logs. */
  label: string;
}

export interface MatchLike {
  index: number;
  readonly length: number;
  [group: number]: string | undefined;
}

export interface Matcher {
  lastIndex: number;
  exec(text: string): MatchLike | null;
}

export interface Detector {
  /** Appends what it finds in `text` to `out`. */
  find(text: string, out: Finding[]): void;
}

export interface Pattern {
  re: Matcher;
  label: string;
  /** Confirms a candidate (checksums, format rules); absent: every match counts. */
  check?: (m: MatchLike) => boolean;
}

/** Bounds the work one pattern does on one text, whatever the input. */
const MAX_MATCHES_PER_PATTERN = 10000;

export function runPattern(p: Pattern, text: string, out: Finding[]): void {
  const re = p.re;
  re.lastIndex = 0;
  for (let n = 0; n < MAX_MATCHES_PER_PATTERN; n++) {
    const m = re.exec(text);
    if (!m) break;
    const matched = m[0] ?? '';
    if (matched.length === 0) {
      // An empty match finds nothing worth masking; step over it so the loop always advances.
      re.lastIndex = m.index + 1;
      if (re.lastIndex > text.length) break;
      continue;
    }
    if (!p.check || p.check(m)) out.push({ start: m.index, end: m.index + matched.length, label: p.label });
  }
  re.lastIndex = 0;
}

/** A detector made of several patterns. */
export function patternDetector(patterns: Pattern[]): Detector {
  return {
    find(text, out) {
      for (const p of patterns) runPattern(p, text, out);
    },
  };
}

/** Escapes text for use as a literal in a `u`-mode regular expression (which refuses `\-`). */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
