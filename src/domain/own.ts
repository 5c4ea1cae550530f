/**
 * JSON.parse and YAML.parse make plain objects, where a key someone wrote (`__proto__`,
 * `constructor`, `toString`, ...) is an own property like any other, while `key in obj`,
 * `obj[key]` and `{...}[key]` also find what every object inherits from Object.prototype.
 * Checks against known names and lookups keyed by outside values use own properties only:
 * `Object.hasOwn`, Maps, or these helpers.
 */

/** The names every plain object inherits: `__proto__`, `constructor`, `toString`, `valueOf`, ... */
export const INHERITED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Why such a name is refused as a key, wherever it appears. */
export const INHERITED_NAME_PROBLEM = 'not allowed as a key: every JavaScript object has a property of that name';

/** `table[key]` when `key` is one of the table's own entries, else undefined. */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * Where a JSON value uses an inherited name as an object key, anywhere inside it: paths such as
 * `metadata.__proto__` or `rules[0].constructor` (under `at`), at most `limit` of them, outer
 * keys before the keys nested in them. Such keys have no business in configuration or admin API
 * bodies, and code copying objects key by key (`out[k] = v`) would make `__proto__` a prototype.
 *
 * Iterative, so that a deeply nested body cannot overflow the stack.
 */
export function inheritedNameKeys(value: unknown, at = '', limit = Infinity): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[value, at]];
  while (stack.length && found.length < limit) {
    const [v, path] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const children: [unknown, string][] = Array.isArray(v)
      ? v.map((c, i) => [c, `${path}[${i}]`])
      : Object.entries(v).map(([k, c]) => {
          const p = path ? `${path}.${k}` : k;
          if (INHERITED_NAMES.has(k) && found.length < limit) found.push(p);
          return [c, p];
        });
    // Reversed onto the stack, so siblings are visited in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return found;
}

/** The same, as configuration problems: `providers[0].headers.__proto__: not allowed as a key: ...`. */
export function inheritedNameProblems(value: unknown, at = ''): string[] {
  return inheritedNameKeys(value, at).map((p) => `${p}: ${INHERITED_NAME_PROBLEM}`);
}
