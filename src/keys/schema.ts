import Ajv, { type ErrorObject } from 'ajv';
import { INHERITED_NAME_PROBLEM, inheritedNameKeys } from '../domain/own';

/**
 * One shape for a key's settings, whether it comes from keys.json, the gateway config or the
 * keys API: snake_case JSON as the rest of the API uses.
 */
export interface KeySpec {
  name?: string;
  user?: string;
  /** keys.json's original field for the user id. */
  owner?: string;
  team?: string;
  tier?: 'standard' | 'langchain';
  roles?: string[];
  provider?: string;
  /** The real provider credential: a literal or `env:NAME`. */
  api_key?: string;
  allowed_models?: string[];
  allowed_providers?: string[];
  quota_limit?: number | null;
  token_budget?: number | null;
  budget_usd?: number | null;
  /** ISO 8601 date-time or epoch milliseconds. */
  expires_at?: string | number | null;
  metadata?: Record<string, unknown>;
}

export const ROLES = ['completion', 'embedding', 'admin'] as const;

const nullableNumber = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'null' }] };
const stringList = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000 };

export const keySpecSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 256 },
    user: { type: 'string', maxLength: 256 },
    owner: { type: 'string', maxLength: 256 },
    team: { type: 'string', maxLength: 256 },
    tier: { enum: ['standard', 'langchain'] },
    roles: { type: 'array', items: { enum: [...ROLES] }, uniqueItems: true },
    provider: { type: 'string', maxLength: 128 },
    api_key: { type: 'string', minLength: 1, maxLength: 4096 },
    allowed_models: stringList,
    allowed_providers: stringList,
    quota_limit: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] },
    token_budget: nullableNumber,
    budget_usd: nullableNumber,
    expires_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'integer', minimum: 0 }, { type: 'null' }] },
    metadata: { type: 'object' },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s));
const validateSpec = ajv.compile<KeySpec>(keySpecSchema);

export interface SpecProblem {
  param: string;
  message: string;
}

function describe(e: ErrorObject): SpecProblem {
  const field = e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') {
    const extra = String(e.params.additionalProperty);
    return { param: extra, message: `Unknown field '${extra}'.` };
  }
  return { param: field || '(body)', message: `'${field || 'body'}' ${e.message ?? 'is invalid'}.` };
}

/** Validates a key spec; returns the first problem, naming the field, or undefined. */
export function checkKeySpec(spec: unknown): SpecProblem | undefined {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return { param: '(body)', message: 'The key settings must be a JSON object.' };
  if (!validateSpec(spec)) return describe(validateSpec.errors![0]);
  // The schema leaves `metadata` open; plugins read it key by key.
  const [inherited] = inheritedNameKeys(spec, '', 1);
  return inherited === undefined ? undefined : { param: inherited, message: `'${inherited}' is ${INHERITED_NAME_PROBLEM}.` };
}

export function parseExpiry(v: string | number | null | undefined): number | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'number' ? v : Date.parse(v);
}
