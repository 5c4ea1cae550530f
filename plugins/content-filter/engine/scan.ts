import type { CompiledRule } from './compile';
import type { Finding } from './patterns';

export interface RuleFinding extends Finding {
  rule: CompiledRule;
}

export interface ScanLimits {
  /** Longest text one detector call sees; longer fields are scanned in overlapping segments. */
  maxScanChars: number;
  /** Longest match the segment overlap (and the stream hold-back window) must keep whole. */
  windowChars: number;
}

/**
 * Finds every rule's matches in `text`, sorted by position. A field longer than
 * `maxScanChars` is scanned in segments that overlap by twice the window, each match taken
 * from the one segment where it starts in the middle part, so nothing is missed or counted
 * twice and no single regex run sees more than the cap.
 */
export function scanText(text: string, rules: readonly CompiledRule[], limits: ScanLimits): RuleFinding[] {
  const out: RuleFinding[] = [];
  for (const rule of rules) {
    for (const f of findSegmented(text, rule, limits)) out.push({ start: f.start, end: f.end, label: f.label, rule });
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end);
}

function findSegmented(text: string, rule: CompiledRule, limits: ScanLimits): Finding[] {
  const size = Math.max(limits.maxScanChars, 256);
  const found: Finding[] = [];
  if (text.length <= size) {
    for (const d of rule.detectors) d.find(text, found);
    return found;
  }
  const overlap = Math.min(2 * limits.windowChars, size / 2);
  const half = Math.floor(overlap / 2);
  const step = size - 2 * half;
  for (let a = 0; ; a += step) {
    const b = Math.min(a + size, text.length);
    const last = b >= text.length;
    const lo = a === 0 ? 0 : a + half;
    const hi = last ? Infinity : b - half;
    const seg: Finding[] = [];
    for (const d of rule.detectors) d.find(text.slice(a, b), seg);
    for (const f of seg) {
      const start = f.start + a;
      if (start >= lo && start < hi) found.push({ start, end: f.end + a, label: f.label });
    }
    if (last) return found;
  }
}

/** Replaces the given ranges (overlaps merged, the first one's mask kept) with their masks. */
export function maskText(text: string, ranges: readonly { start: number; end: number; mask: string }[]): string {
  if (ranges.length === 0) return text;
  const sorted = [...ranges].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let pos = 0;
  for (let i = 0; i < sorted.length; ) {
    const { start, mask } = sorted[i]!;
    let end = sorted[i]!.end;
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.start < end) end = Math.max(end, sorted[j++]!.end);
    out += text.slice(pos, Math.max(pos, start)) + mask;
    pos = Math.max(pos, end);
    i = j;
  }
  return out + text.slice(pos);
}

/** Mask ranges for the `redact` findings. */
export function redactions(findings: readonly RuleFinding[]): { start: number; end: number; mask: string }[] {
  return findings.filter((f) => f.rule.action === 'redact').map((f) => ({ start: f.start, end: f.end, mask: f.rule.mask(f.label) }));
}
