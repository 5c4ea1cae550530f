import { ownValue } from '../../domain/own';
import { isObj, type Obj } from '../shared/json';

/**
 * JSON Schema → Gemini `Schema` (a subset of OpenAPI 3.0). Gemini rejects unknown keys
 * (`additionalProperties`, `$schema`, `strict`, ...), so only the fields it documents are kept;
 * `$ref`s are inlined, `["string","null"]` and `anyOf` with a null branch become `nullable`,
 * and `const` becomes a one-value enum.
 */

const KEEP = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'default',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'properties',
  'propertyOrdering',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'minimum',
  'maximum',
]);

/** Formats the Gemini API accepts per type; others (email, uri, uuid...) are dropped. */
const FORMATS: Record<string, Set<string>> = {
  string: new Set(['enum', 'date-time']),
  number: new Set(['float', 'double']),
  integer: new Set(['int32', 'int64']),
};

const MAX_DEPTH = 32;

export function toGeminiSchema(schema: unknown): Obj | undefined {
  if (!isObj(schema)) return undefined;
  const defs = { ...(isObj(schema.definitions) ? schema.definitions : {}), ...(isObj(schema.$defs) ? schema.$defs : {}) };
  return clean(schema, defs, 0);
}

function resolveRef(ref: string, defs: Obj): Obj | undefined {
  const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
  const def = m ? ownValue(defs, decodeURIComponent(m[1].replace(/~1/g, '/').replace(/~0/g, '~'))) : undefined;
  return isObj(def) ? def : undefined;
}

function clean(input: Obj, defs: Obj, depth: number): Obj {
  if (depth > MAX_DEPTH) return { type: 'object' };
  let s = input;
  if (typeof s.$ref === 'string') {
    const target = resolveRef(s.$ref, defs);
    // Sibling keys (description...) override the referenced schema's.
    const { $ref: _ref, ...rest } = s;
    s = target ? { ...target, ...rest } : rest;
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0 && s.allOf.every(isObj)) {
    const { allOf, ...rest } = s;
    // Spread, not Object.assign: an own `__proto__` key must stay a key, not become a prototype.
    s = [...(allOf as Obj[]).map((x) => (typeof x.$ref === 'string' ? (resolveRef(x.$ref, defs) ?? {}) : x)), rest].reduce<Obj>((acc, x) => ({ ...acc, ...x }), {});
  }

  const out: Obj = {};
  let nullable = s.nullable === true;
  let type = s.type;
  if (Array.isArray(type)) {
    const types = type.filter((t) => t !== 'null');
    if (types.length < type.length) nullable = true;
    if (types.length === 1) type = types[0];
    else if (types.length === 0) type = undefined;
    else {
      // Several types: an anyOf of single-type schemas.
      const { type: _t, ...rest } = s;
      const branches = types.map((t) => clean({ ...rest, type: t }, defs, depth + 1));
      return nullable ? { anyOf: branches, nullable: true } : { anyOf: branches };
    }
  }
  if (type === 'null') {
    nullable = true;
    type = undefined;
  }

  for (const [key, value] of Object.entries(s)) {
    if (!KEEP.has(key) || key === 'type' || key === 'nullable') continue;
    switch (key) {
      case 'properties':
        if (isObj(value)) {
          // Built from entries: a property named `__proto__` is a property like any other.
          out.properties = Object.fromEntries(Object.entries(value).flatMap(([name, sub]) => (isObj(sub) ? [[name, clean(sub, defs, depth + 1)]] : [])));
        }
        break;
      case 'items':
        if (isObj(value)) out.items = clean(value, defs, depth + 1);
        break;
      case 'anyOf':
        if (Array.isArray(value)) {
          const branches = value.filter(isObj);
          const nonNull = branches.filter((b) => b.type !== 'null');
          if (nonNull.length < branches.length) nullable = true;
          if (nonNull.length === 1) Object.assign(out, clean(nonNull[0], defs, depth + 1));
          else if (nonNull.length > 1) out.anyOf = nonNull.map((b) => clean(b, defs, depth + 1));
        }
        break;
      case 'enum':
        if (Array.isArray(value)) {
          const values = value.filter((v) => v !== null);
          if (values.length < value.length) nullable = true;
          out.enum = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
        }
        break;
      case 'format':
        break;
      default:
        out[key] = value;
    }
  }
  if (s.const !== undefined && out.enum === undefined) out.enum = [typeof s.const === 'string' ? s.const : JSON.stringify(s.const)];
  if (typeof type === 'string') out.type = type;
  if (out.enum !== undefined && out.type === undefined) out.type = 'string';
  const t = typeof out.type === 'string' ? out.type.toLowerCase() : undefined;
  if (typeof s.format === 'string' && t && ownValue(FORMATS, t)?.has(s.format)) out.format = s.format;
  if (out.enum !== undefined && t === 'string') out.format = 'enum';
  if (out.required !== undefined) {
    const props = isObj(out.properties) ? out.properties : {};
    const required = Array.isArray(out.required) ? out.required.filter((r) => typeof r === 'string' && Object.hasOwn(props, r)) : [];
    if (required.length) out.required = required;
    else delete out.required;
  }
  if (nullable) out.nullable = true;
  return out;
}
