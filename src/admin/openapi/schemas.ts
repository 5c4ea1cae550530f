import { keySpecSchema } from '../../keys/schema';
import { PROVIDER_MODULES } from '../../providers/translators';

/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the admin API sends and takes. The
 * response schemas are closed (`additionalProperties: false`): a field a handler starts sending
 * without documenting it here fails test/e2e/openapi.test.ts, which checks real answers.
 */

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });
const DATE_TIME = { type: 'string', format: 'date-time' };
const STRINGS = { type: 'array', items: { type: 'string' } };

/** An object with exactly these properties (all required unless listed in `optional`). */
export function closed(properties: Record<string, Schema>, optional: string[] = [], description?: string): Schema {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
    additionalProperties: false,
  };
}

const listOf = (item: Schema, more: Record<string, Schema> = {}, description?: string): Schema =>
  closed({ object: { const: 'list' }, ...more, data: { type: 'array', items: item } }, [], description);

/** A key as the admin API shows it (src/keys/service.ts PublicKey): never the secret or the provider key. */
const KEY_FIELDS: Record<string, Schema> = {
  id: { type: 'string', description: 'The key id (what /v1/keys/{id} takes).' },
  prefix: { type: 'string', description: 'The first characters of the secret, to recognise it.' },
  name: nullable('string'),
  user: nullable('string'),
  team: nullable('string'),
  tier: { enum: ['standard', 'langchain'] },
  roles: { type: 'array', items: { type: 'string', examples: ['completion', 'embedding', 'admin'] } },
  provider: nullable('string', { description: 'The provider this key is pinned to, if any.' }),
  has_provider_key: { type: 'boolean', description: 'Whether the key carries its own provider credential (never shown).' },
  allowed_models: nullable('array', { items: { type: 'string' } }),
  allowed_providers: nullable('array', { items: { type: 'string' } }),
  quota_limit: nullable('integer'),
  token_budget: nullable('number'),
  budget_usd: nullable('number'),
  expires_at: nullable('string', { format: 'date-time' }),
  revoked_at: nullable('string', { format: 'date-time' }),
  status: { enum: ['active', 'revoked', 'expired'] },
  metadata: { type: 'object' },
  source: { type: 'string', description: '`api`, or where an imported key came from (the configuration, keys.json).' },
  created_at: DATE_TIME,
  updated_at: DATE_TIME,
};

const HEALTH_PROVIDER = closed(
  {
    type: { type: 'string' },
    healthy: { type: 'boolean' },
    ejected: { type: 'boolean', description: 'Every host of the provider is ejected by outlier detection.' },
    circuit_open: { type: 'boolean' },
    reason: { type: 'string' },
  },
  ['reason'],
);

const USAGE_ROW = closed({
  group: nullable('string', { description: 'The group\'s value (`day` is `YYYY-MM-DD`, `hour` is `YYYY-MM-DDTHH:00:00Z`, both UTC); `all` without `group_by`; null when records had none.' }),
  requests: { type: 'integer', minimum: 0 },
  errors: { type: 'integer', minimum: 0, description: 'Requests answered with an error status (400 and up).' },
  prompt_tokens: { type: 'number', minimum: 0 },
  completion_tokens: { type: 'number', minimum: 0 },
  cached_tokens: { type: 'number', minimum: 0 },
  reasoning_tokens: { type: 'number', minimum: 0 },
  total_tokens: { type: 'number', minimum: 0 },
  cost_usd: { type: 'number', minimum: 0 },
});

const SCOPE = {
  enum: ['all', 'team', 'key'],
  description: 'Whose records the caller saw: everything, its team\'s (data isolation), or its own key\'s.',
};

/** Every provider `type` the API takes: the built-in translators' types and their aliases. */
const PROVIDER_TYPE: Schema = { enum: Object.values(PROVIDER_MODULES).flatMap((m) => [m.translator.type, ...m.aliases]) };

/** The provider fields shown by the API (publicProvider, src/control/provider-manager.ts). */
const PROVIDER_FIELDS: Record<string, Schema> = {
  name: { type: 'string' },
  type: PROVIDER_TYPE,
  base_url: { type: 'string' },
  models: STRINGS,
  header_names: { ...STRINGS, description: 'Names of the extra headers sent to the provider (values may be credentials: never shown).' },
  timeout_seconds: { type: 'number', minimum: 0 },
  source: { enum: ['config', 'api'] },
  cluster: { type: 'string', description: 'The Envoy cluster of the provider.' },
  has_api_key: { type: 'boolean' },
  api_key_env: nullable('string', { description: 'The environment variable the key is read from, when it is one.' }),
};

const APPLIED = { type: 'boolean', description: 'Envoy acknowledged the change (over xDS) within 2 s.' };

/**
 * Body of PUT /v1/providers/{name} (and of POST /v1/providers, where `name` and `type` may be left
 * out); mirrors the API's own schema (specSchema in src/control/provider-manager.ts).
 */
const PROVIDER_SPEC_FIELDS: Record<string, Schema> = {
  name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
  type: PROVIDER_TYPE,
  base_url: { type: 'string', pattern: '^https?://[^/\\s?#]+(/[^\\s?#]*)?$', maxLength: 2048 },
  api_key: { type: 'string', minLength: 1, maxLength: 4096, description: 'Stored encrypted; never shown again. Not with `api_key_env`.' },
  api_key_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Read the key from this environment variable of the gateway.' },
  model_names: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000, description: 'Model names or patterns (`gpt-*`) it serves.' },
  models: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000, description: 'Same as `model_names`.' },
  headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 50 },
  timeout_seconds: { type: 'number', minimum: 0, maximum: 86400 },
};
const providerSpec = (required: string[], description: string, example: Schema): Schema => ({
  type: 'object',
  description,
  additionalProperties: false,
  required,
  properties: PROVIDER_SPEC_FIELDS,
  examples: [example],
});

const SETTINGS_FIELDS: Record<string, Schema> = {
  content_filtering_enabled: { type: 'boolean' },
  audit_logging_enabled: { type: 'boolean' },
  data_isolation_enabled: { type: 'boolean' },
  content_filters: { type: 'array', items: { type: 'object' }, description: 'Content filter rule sets (docs/content-filtering.md); checked by the content filter.' },
};

/** The component schemas of the whole document (admin API and shared ones). */
export function adminSchemas(): Record<string, Schema> {
  return {
    Error: closed(
      {
        error: closed({
          message: { type: 'string', description: 'For people; may change.' },
          type: { type: 'string', examples: ['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'rate_limit_error', 'server_error'] },
          param: nullable('string', { description: 'The offending request field, if any.' }),
          code: nullable('string', { description: 'Stable and machine-readable: the codes are listed in docs/errors.md.' }),
        }),
      },
      [],
      'Every error of the gateway, in OpenAI\'s shape.',
    ),
    KeySettings: {
      // The API validates with this very schema (src/keys/schema.ts).
      ...(JSON.parse(JSON.stringify(keySpecSchema)) as Schema),
      description: 'A key\'s settings. Creating: all optional. Updating (PATCH or PUT): the fields given replace the stored ones.',
      examples: [{ name: 'ci-bot', user: 'alice', team: 'ml', roles: ['completion'], allowed_models: ['gpt-4o-mini'], budget_usd: 50 }],
    },
    KeySummary: closed(KEY_FIELDS, [], 'A key in a listing.'),
    VirtualKey: closed({ object: { const: 'virtual_key' }, ...KEY_FIELDS }),
    CreatedVirtualKey: closed(
      { object: { const: 'virtual_key' }, ...KEY_FIELDS, key: { type: 'string', description: 'The secret: shown this once, never again.' } },
      [],
    ),
    RevokedVirtualKey: closed({ object: { const: 'virtual_key' }, ...KEY_FIELDS, revoked: { const: true } }),
    KeyList: closed(
      {
        object: { const: 'list' },
        data: { type: 'array', items: ref('KeySummary') },
        has_more: { type: 'boolean', description: 'With `limit` or `after`: more keys follow this page.' },
        last_id: nullable('string', { description: 'With `limit` or `after`: the last key of this page, the `after` of the next.' }),
      },
      ['has_more', 'last_id'],
      'Keys, newest first (revoked ones included).',
    ),

    Provider: closed(PROVIDER_FIELDS),
    AppliedProvider: closed({ ...PROVIDER_FIELDS, applied: APPLIED }),
    ProviderList: listOf(ref('Provider')),
    ProviderSpec: providerSpec(['name', 'type', 'base_url'], 'A provider.', {
      name: 'local-vllm',
      type: 'openai-compatible',
      base_url: 'http://10.0.0.5:8000/v1',
      api_key_env: 'VLLM_KEY',
      model_names: ['llama-*'],
    }),
    NewProviderSpec: providerSpec(
      ['base_url'],
      "A provider. Without `type` it is `openai-compatible`; without `name` (LiteLLM's `{base_url, api_key, model_names}`) one is derived from the base URL's host, and the answer names it.",
      { base_url: 'https://api.together.xyz/v1', api_key: 'sk-...', model_names: ['meta-llama/*'] },
    ),
    DeletedProvider: closed({ name: { type: 'string' }, deleted: { const: true }, applied: APPLIED }),

    SecuritySettings: closed(SETTINGS_FIELDS),
    SecuritySettingsChange: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: SETTINGS_FIELDS,
      description: 'Some or all of the settings, merged onto those in force.',
      examples: [{ audit_logging_enabled: true, data_isolation_enabled: true }],
    },

    AuditRecord: closed({
      object: { const: 'audit.record' },
      id: { type: 'string' },
      time: DATE_TIME,
      action: { type: 'string', examples: ['key.created', 'provider.removed', 'security_config.changed', 'admin.login_failed'] },
      outcome: { enum: ['success', 'failure', 'denied'] },
      target: nullable('string'),
      actor: closed({ key_id: nullable('string'), identity: nullable('string'), team: nullable('string') }),
      request_id: nullable('string'),
      details: { type: 'object', description: 'Never a secret or request content.' },
    }),
    AuditList: listOf(
      ref('AuditRecord'),
      {
        scope: SCOPE,
        has_more: { type: 'boolean', description: 'More records follow this page.' },
        next_cursor: nullable('string', { description: 'The `before` of the next page; null on the last.' }),
      },
      'Audit records, newest first.',
    ),

    UsageReport: closed(
      {
        object: { const: 'usage.report' },
        start: nullable('string', { format: 'date-time' }),
        end: nullable('string', { format: 'date-time' }),
        group_by: nullable('string', { enum: ['key', 'user', 'team', 'model', 'provider', 'endpoint', 'day', 'hour', null] }),
        scope: SCOPE,
        data: { type: 'array', items: USAGE_ROW },
        has_more: { type: 'boolean', description: 'With `limit`: more groups follow this page.' },
        next_offset: nullable('integer', { description: 'With `limit`: the `offset` of the next page; null on the last.' }),
      },
      ['has_more', 'next_offset'],
    ),
    MetricsSummary: closed({
      total_requests: { type: 'integer', minimum: 0 },
      requests_by_provider: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
      average_response_ms: { type: 'number', minimum: 0, description: 'Mean duration of a request.' },
      average_response_time_ms: { type: 'number', minimum: 0, description: 'The same as `average_response_ms` (an earlier name).' },
      last_updated: nullable('string', { format: 'date-time' }),
    }),

    ConsoleSession: closed({
      object: { const: 'console.session' },
      credential: { enum: ['api_key', 'jwt'], description: 'What the session was opened with (never the credential itself).' },
      identity: nullable('string'),
      team: nullable('string'),
      expires_at: nullable('string', { format: 'date-time' }),
    }),

    Health: closed({
      status: { enum: ['healthy', 'unhealthy'] },
      timestamp: DATE_TIME,
      uptime_seconds: { type: 'integer', minimum: 0 },
      processor: closed({ status: { const: 'healthy' } }),
      envoy: closed(
        { state: { enum: ['live', 'unreachable', 'not_ready', 'external'] }, detail: { type: 'string' } },
        ['detail'],
        '`external`: this processor runs without its own Envoy (`start --no-envoy`).',
      ),
      providers: { type: 'object', additionalProperties: HEALTH_PROVIDER, description: 'By provider name.' },
    }),
  };
}
