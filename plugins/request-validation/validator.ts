import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Endpoint, JsonObject } from '../../src/domain';
import { tooDeep } from '../../src/domain/json-depth';
import { chatCompletionsSchema, completionsSchema, embeddingsSchema, responsesSchema, type Schema, type SchemaOptions } from './openai-schemas';

/** What is wrong with a request, in the terms of an OpenAI error. */
export interface ValidationProblem {
  /** The field at fault as OpenAI names it: `messages[0].role`, `tools[1].function.name`, `temperature`. */
  param: string | null;
  code: 'missing_required_parameter' | 'invalid_type' | 'invalid_value';
  message: string;
}

export interface ValidatorOptions extends SchemaOptions {
  /** Deepest nesting of objects and arrays accepted (the body itself is level 1). */
  maxDepth: number;
}

export const DEFAULT_VALIDATOR_OPTIONS: ValidatorOptions = { maxDepth: 64, maxMessages: 10000, extraContentPartTypes: [] };

/**
 * Validates OpenAI request bodies. Schemas are compiled once; validation runs in Ajv's
 * first-error mode, which is both the fastest and deterministic: the error reported is always
 * the first one in schema order. The body is never changed (no defaults, coercion or removal).
 */
export class RequestValidator {
  private readonly validators: Partial<Record<Endpoint, ValidateFunction>>;
  private readonly maxDepth: number;

  constructor(opts: Partial<ValidatorOptions> = {}) {
    const o = { ...DEFAULT_VALIDATOR_OPTIONS, ...opts };
    this.maxDepth = o.maxDepth;
    const ajv = new Ajv({
      allErrors: false,
      discriminator: true,
      // Error objects carry the failing schema and data, for precise messages (no cost when valid).
      verbose: true,
      allowUnionTypes: true,
      // Lengths in UTF-16 units: avoids a code point count over every long string.
      unicode: false,
      coerceTypes: false,
      useDefaults: false,
      removeAdditional: false,
      logger: { log: () => {}, warn: schemaWarning, error: schemaWarning },
    });
    const compile = (s: Schema) => ajv.compile(s);
    this.validators = {
      'chat.completions': compile(chatCompletionsSchema(o)),
      completions: compile(completionsSchema()),
      embeddings: compile(embeddingsSchema()),
      responses: compile(responsesSchema()),
    };
  }

  /** The first problem with `body` for `endpoint`, or undefined when it is valid (or not an OpenAI body). */
  validate(endpoint: Endpoint, body: JsonObject): ValidationProblem | undefined {
    const validate = this.validators[endpoint];
    if (!validate) return undefined;
    // Before the schema: a pathological depth must not reach recursive code.
    const deep = tooDeep(body, this.maxDepth);
    if (deep !== undefined) {
      return { param: deep, code: 'invalid_value', message: `Invalid '${deep}': nested more than ${this.maxDepth} levels deep.` };
    }
    if (validate(body)) return undefined;
    const err = validate.errors?.[0];
    return err ? describeError(err, body) : { param: null, code: 'invalid_value', message: 'The request body is invalid.' };
  }
}

/**
 * Ajv's strict-mode complaints about these schemas are bugs: fail at startup (and in the unit
 * tests) instead of printing to the console. `unicode: false` is reported as deprecated but is
 * still honoured, and wanted.
 */
function schemaWarning(...args: unknown[]): void {
  const msg = args.map(String).join(' ');
  if (msg.startsWith('DEPRECATED: option unicode')) return;
  throw new Error(`request validation schema: ${msg}`);
}

/** `/messages/0/role` → `messages[0].role`: indexes of arrays in brackets, keys after dots. */
export function paramName(pointer: string, body: unknown): string {
  if (!pointer) return '';
  let out = '';
  let node: unknown = body;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out += `[${seg}]`;
      node = node[Number(seg)];
    } else {
      out += out ? `.${seg}` : seg;
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

const join = (base: string, key: string) => (base ? `${base}.${key}` : key);

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  array: 'an array',
  object: 'an object',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

/** The JSON type of a value in words; never the value itself. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal number';
  if (v === undefined) return 'nothing';
  return TYPE_NAMES[typeof v] ?? typeof v;
}

const list = (words: string[]) => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`);
const quoted = (values: unknown[]) => values.map((v) => (v === null ? 'null' : `'${String(v)}'`)).join(', ');

/** Turns Ajv's first error into OpenAI's wording. Messages name fields and expectations, never echo values. */
export function describeError(err: ErrorObject, body: unknown): ValidationProblem {
  const at = paramName(err.instancePath, body);
  const p = err.params as Record<string, unknown>;
  const invalid = (param: string, expectation: string): ValidationProblem => ({
    param: param || null,
    code: 'invalid_value',
    message: `Invalid value for '${param || 'body'}': ${expectation}.`,
  });
  switch (err.keyword) {
    case 'required': {
      const param = join(at, String(p.missingProperty));
      return { param, code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.` };
    }
    case 'type': {
      const types = String(p.type).split(',');
      // "expected a number" reads better than "a number or null" for an optional field.
      const expected = types.length > 1 ? types.filter((t) => t !== 'null') : types;
      return {
        param: at || null,
        code: 'invalid_type',
        message: `Invalid type for '${at || 'body'}': expected ${list(expected.map((t) => TYPE_NAMES[t] ?? t))}, but got ${typeOf(err.data)} instead.`,
      };
    }
    case 'discriminator': {
      const tag = String(p.tag);
      const param = join(at, tag);
      const value = (err.data as Record<string, unknown> | undefined)?.[tag];
      if (value === undefined) return { param, code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.` };
      if (typeof value !== 'string') return { param, code: 'invalid_type', message: `Invalid type for '${param}': expected a string, but got ${typeOf(value)} instead.` };
      return invalid(param, `expected one of ${quoted(tagValues(err.parentSchema, tag))}`);
    }
    case 'enum':
      return invalid(at, `expected one of ${quoted(p.allowedValues as unknown[])}`);
    case 'const':
      return invalid(at, `expected ${quoted([p.allowedValue])}`);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return invalid(at, `expected a value ${String(p.comparison)} ${String(p.limit)}`);
    case 'minItems':
      return invalid(at, Number(p.limit) === 1 ? 'expected a non-empty array' : `expected an array with at least ${String(p.limit)} items`);
    case 'maxItems':
      return invalid(at, `expected an array with at most ${String(p.limit)} items`);
    case 'minLength':
      return invalid(at, Number(p.limit) === 1 ? 'expected a non-empty string' : `expected a string of at least ${String(p.limit)} characters`);
    case 'maxLength':
      return invalid(at, `expected a string of at most ${String(p.limit)} characters`);
    case 'pattern':
      return err.propertyName !== undefined
        ? invalid(at, `every key must match the pattern '${String(p.pattern)}'`)
        : invalid(at, `expected a string that matches the pattern '${String(p.pattern)}'`);
    default:
      return invalid(at, 'does not have the expected shape');
  }
}

/** The values a discriminator accepts, from its `oneOf` branches. */
function tagValues(parentSchema: unknown, tag: string): string[] {
  const branches = (parentSchema as { oneOf?: { properties?: Record<string, { const?: string; enum?: string[] }> }[] } | undefined)?.oneOf ?? [];
  return branches.flatMap((b) => {
    const s = b.properties?.[tag];
    return s?.const !== undefined ? [s.const] : (s?.enum ?? []);
  });
}
