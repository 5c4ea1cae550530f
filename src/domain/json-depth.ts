/**
 * Where a JSON value nests deeper than `max` levels of objects and arrays (the value itself is
 * level 1): the top-level key (`metadata`, or `[3]` under an array) of the first offending
 * branch found, `''` for the value itself, or undefined when it is within bounds.
 *
 * Iterative, so that depth itself cannot overflow the stack: JSON.parse accepts any depth, but
 * recursive code later on (JSON.stringify, schema validation, translators) would not.
 */
export function tooDeep(root: unknown, max: number): string | undefined {
  if (root === null || typeof root !== 'object') return undefined;
  if (max < 1) return '';
  const values: object[] = [];
  const depths: number[] = [];
  const tops: string[] = [];
  const rootIsArray = Array.isArray(root);
  const entries = rootIsArray ? (root as unknown[]).map((v, i) => [`[${i}]`, v] as const) : Object.entries(root);
  for (const [key, v] of entries) {
    if (v !== null && typeof v === 'object') {
      values.push(v);
      depths.push(2);
      tops.push(key);
    }
  }
  while (values.length) {
    const v = values.pop()!;
    const depth = depths.pop()!;
    const top = tops.pop()!;
    if (depth > max) return top;
    for (const c of Array.isArray(v) ? v : Object.values(v)) {
      if (c !== null && typeof c === 'object') {
        values.push(c);
        depths.push(depth + 1);
        tops.push(top);
      }
    }
  }
  return undefined;
}
