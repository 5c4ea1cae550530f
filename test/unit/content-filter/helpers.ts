import { compileFilters, type CompiledFilters } from '../../../plugins/content-filter/engine';

export const SCAN = { maxScanChars: 65536, windowChars: 64, maxHoldChars: 4096 };

/** Compiles one rule set from rules, failing the test on a validation problem. */
export function filters(...rules: Record<string, unknown>[]): CompiledFilters {
  const c = compileFilters([{ name: 'test', rules }], { maxPatternLength: 1000 });
  if (!c.ok) throw new Error(`${c.problem.param}: ${c.problem.message}`);
  return c.filters;
}

/** A fake OpenAI key assembled at run time (no secret-shaped literal in the repository). */
export const FAKE_KEY = `sk-proj-${Array.from({ length: 48 }, (_, i) => 'Qx7Lm2Rt'[i % 8]).join('')}`;

/** Splits text into `n` pieces of roughly equal length. */
export function splitInto(text: string, n: number): string[] {
  const size = Math.ceil(text.length / n);
  return Array.from({ length: n }, (_, i) => text.slice(i * size, (i + 1) * size));
}
