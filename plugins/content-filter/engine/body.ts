import type { JsonValue } from '../../../src/domain';
import type { CompiledRule } from './compile';
import { selectFields, setAt, type Direction } from './fields';
import { maskText, redactions, scanText, type RuleFinding, type ScanLimits } from './scan';

export interface BodyOutcome {
  /** The first `block` match, if any: the body must not go on. */
  blocked?: RuleFinding;
  /** The `redact` and `flag` matches (for counting and logs). */
  findings: RuleFinding[];
  /** A masked copy of the body when something was redacted; the original is never changed. */
  body?: JsonValue;
}

/** Applies the rules to a whole JSON body (a request, or a buffered response). */
export function filterBody(
  body: JsonValue,
  rules: readonly CompiledRule[],
  direction: Direction,
  limits: ScanLimits,
  onPathError?: (rule: CompiledRule, path: string) => void,
): BodyOutcome {
  if (rules.length === 0 || body === null || typeof body !== 'object') return { findings: [] };
  const findings: RuleFinding[] = [];
  const edits: [string[], string][] = [];
  for (const field of selectFields(body, rules, direction, onPathError)) {
    const found = scanText(field.text, field.rules, limits);
    const blocked = found.find((f) => f.rule.action === 'block');
    if (blocked) return { blocked, findings: [] };
    findings.push(...found);
    const masks = redactions(found);
    if (masks.length) edits.push([field.segments, maskText(field.text, masks)]);
  }
  if (edits.length === 0) return { findings };
  const copy = structuredClone(body);
  for (const [segments, text] of edits) setAt(copy, segments, text);
  return { findings, body: copy };
}
