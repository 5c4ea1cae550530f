/**
 * Edits of JSON text that keep every other byte as it came: a native attempt forwards the
 * client's body as is, the model id alone replaced when routing renamed it.
 */

/** The index just past the string literal starting at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/**
 * `text` (a JSON object) with every top-level `key` whose value is not the string `value` set to
 * it; every occurrence, since parsers disagree on which of duplicate keys wins. Undefined when a
 * top-level `key` holds something other than a string (the caller then serialises instead).
 */
export function setTopLevelString(text: string, key: string, value: string): string | undefined {
  const edits: Array<[number, number]> = [];
  let depth = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      const colon = skipSpace(text, end);
      if (depth === 1 && text[colon] === ':' && JSON.parse(text.slice(i, end)) === key) {
        const v = skipSpace(text, colon + 1);
        if (text[v] !== '"') return undefined;
        const vEnd = stringEnd(text, v);
        if (JSON.parse(text.slice(v, vEnd)) !== value) edits.push([v, vEnd]);
        i = vEnd;
        continue;
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  let out = text;
  for (const [from, to] of edits.reverse()) out = out.slice(0, from) + JSON.stringify(value) + out.slice(to);
  return out;
}
