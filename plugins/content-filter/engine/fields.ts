import { JSONPath } from 'jsonpath-plus';
import type { JsonValue } from '../../../src/domain';
import type { CompiledRule } from './compile';

/** One string in a body that some rules look at. */
export interface TextField {
  /** Where it is: object keys and array indexes from the root. */
  segments: string[];
  text: string;
  rules: CompiledRule[];
}

export type Direction = 'request' | 'response';

/** How deep inside a selected value text parts are looked for (content parts, response items). */
const MAX_PART_DEPTH = 4;

type Obj = { [key: string]: JsonValue };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Evaluates each rule's JSONPath expressions (jsonpath-plus, script filters in its safe mode)
 * and collects the strings they select. A selected array or object is searched for text parts
 * (`{type: 'text', text}` and the like, `content` inside Responses items and the `output` of
 * their `function_call_output` items), so `$.messages[*].content` covers both plain and
 * multi-part messages and `$.input` every text of a Responses input. A string selected by
 * several rules is one field with all of them.
 */
export function selectFields(
  body: JsonValue,
  rules: readonly CompiledRule[],
  direction: Direction,
  onPathError?: (rule: CompiledRule, path: string) => void,
): TextField[] {
  const fields = new Map<string, TextField>();
  const add = (segments: string[], text: string, rule: CompiledRule) => {
    const key = segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
    const field = fields.get(key);
    if (!field) fields.set(key, { segments, text, rules: [rule] });
    else if (!field.rules.includes(rule)) field.rules.push(rule);
  };
  for (const rule of rules) {
    for (const path of direction === 'request' ? rule.requestPaths : rule.responsePaths) {
      let results: { value: JsonValue; pointer: string }[];
      try {
        results = JSONPath({ path, json: body as object, resultType: 'all', eval: 'safe', wrap: true }) as { value: JsonValue; pointer: string }[];
      } catch {
        onPathError?.(rule, path);
        continue;
      }
      for (const r of results) collect(r.value, pointerSegments(r.pointer), 0, (segs, text) => add(segs, text, rule));
    }
  }
  return [...fields.values()];
}

function collect(value: JsonValue, segments: string[], depth: number, add: (segments: string[], text: string) => void): void {
  if (typeof value === 'string') {
    add(segments, value);
  } else if (Array.isArray(value)) {
    if (depth > MAX_PART_DEPTH) return;
    value.forEach((v, i) => {
      if (typeof v === 'string') add([...segments, String(i)], v);
      else if (isObject(v)) collectPart(v, [...segments, String(i)], depth + 1, add);
    });
  } else if (isObject(value)) {
    collectPart(value, segments, depth + 1, add);
  }
}

function collectPart(part: Obj, segments: string[], depth: number, add: (segments: string[], text: string) => void): void {
  if (depth > MAX_PART_DEPTH) return;
  if (typeof part.text === 'string') add([...segments, 'text'], part.text);
  const content = part.content;
  if (typeof content === 'string' || Array.isArray(content)) collect(content, [...segments, 'content'], depth, add);
  // A Responses tool result is the `tool` message of chat completions: its text is the output.
  if (part.type === 'function_call_output' && (typeof part.output === 'string' || Array.isArray(part.output))) collect(part.output, [...segments, 'output'], depth, add);
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Sets the string at `segments` inside `root` (a copy the caller owns). */
export function setAt(root: JsonValue, segments: string[], value: string): void {
  let node = root as Record<string, JsonValue>;
  for (let i = 0; i < segments.length - 1; i++) node = node[segments[i]!] as Record<string, JsonValue>;
  node[segments[segments.length - 1]!] = value;
}
