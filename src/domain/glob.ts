/**
 * Anchored glob: `*` matches any run of characters (`/` and `_` included); everything else is
 * literal (`gpt-*` matches `gpt-4o`). Matched by walking both strings (backtracking only to the
 * last `*`), not by a regular expression: patterns come from admins at run time (provider models,
 * MCP access rules) and values from clients (a model name), and a pattern such as `*a*a*a*a*b`
 * would make a backtracking regex take exponential time on a long value, whereas this stays
 * within pattern length × value length steps.
 */
export function globMatches(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star >= 0) {
      // Let the last `*` take one more character and try again from there.
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
