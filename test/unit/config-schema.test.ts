/**
 * gateway.yaml has one source of truth: the JSON Schema (src/config/schema.ts and the sections
 * it composes), from which every configuration type is derived. The compile-time assertions
 * below are checked by `tsc -p tsconfig.test.json` (npm test runs it first); the runtime tests
 * check that what the types promise is what the loader delivers.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { parseConfig } from '../../src/config/load';
import { embeddedDefaults } from '../../src/config/defaults';
import { listeningPorts } from '../../src/config/ports';
import { gatewayConfigSchema, pricingSchema, securitySchema, serverSchema } from '../../src/config/schema';
import { Closed, Default, MapOf, OneOf, Constant, StringEnum, type Defaulted } from '../../src/config/schema-kit';
import type {
  AdminKeyConfig,
  EchoDemoConfig,
  EnvoyConfig,
  FallbackConfig,
  GatewayConfig,
  GatewayConfigInput,
  KeysConfig,
  LoggingConfig,
  ModelMappingConfig,
  ModelPriceConfig,
  PluginConfig,
  PricingConfig,
  ProcessorConfig,
  ProviderConfig,
  RoutingConfig,
  SecurityConfig,
  ServerConfig,
  StoreConfig,
  UsageConfig,
} from '../../src/config/types';
import type { AdminAuthConfig, JwtAuthConfig } from '../../src/admin/jwt-config';
import type { IdentityRule, MtlsConfig } from '../../src/identity/config';
import type { LocalRateLimitConfig, RateLimitRuleConfig, RateLimitsConfig } from '../../src/ratelimit/config';
import type { SecuritySettings } from '../../src/domain';
import type { ModelPrice, PricingConfig as PricingConfigOfPricing } from '../../src/usage/pricing';

// ---------------------------------------------------------------------------------------------
// Compile time

/** true only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<_T extends true>(): void {}
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

// The helper itself: a default makes a property present after loading; input stays optional.
const sample = Closed({
  required: Type.String(),
  defaulted: Default(Type.Number(), 1),
  optional: Type.Optional(Type.Boolean()),
  level: Default(StringEnum(['a', 'b']), 'a'),
  workers: Default(OneOf([Type.Integer(), Constant('auto')]), 'auto'),
  nested: Default(Closed({ inner: Default(Type.String(), 'x'), free: Type.Optional(Type.String()) }), {}),
  map: Default(MapOf(Closed({ v: Default(Type.Integer(), 0) })), {}),
  list: Default(Type.Array(Closed({ v: Default(Type.Integer(), 0) })), []),
  either: Type.Optional(Type.Union([Type.String(), Closed({ v: Default(Type.Integer(), 0) })])),
});
assertType<
  Equal<
    Defaulted<typeof sample>,
    {
      required: string;
      defaulted: number;
      optional?: boolean;
      level: 'a' | 'b';
      workers: number | 'auto';
      nested: { inner: string; free?: string };
      map: { [key: string]: { v: number } };
      list: { v: number }[];
      either?: string | { v: number };
    }
  >
>();
assertType<
  Equal<
    Static<typeof sample>,
    {
      required: string;
      defaulted?: number;
      optional?: boolean;
      level?: 'a' | 'b';
      workers?: number | 'auto';
      nested?: { inner?: string; free?: string };
      map?: { [key: string]: { v?: number } };
      list?: { v?: number }[];
      either?: string | { v?: number };
    }
  >
>();
// A default must be a valid value of its schema.
// @ts-expect-error 'c' is not one of the enum's values
Default(StringEnum(['a', 'b']), 'c');

// GatewayConfig has exactly the schema's top-level keys (plus base_dir, set by the loader), and
// each of them is the type derived from that section's schema.
assertType<Equal<keyof GatewayConfig, keyof typeof gatewayConfigSchema.properties | 'base_dir'>>();
type Sections = Defaulted<typeof gatewayConfigSchema>;
assertType<Equal<{ [K in keyof Sections]: GatewayConfig[K] }, Sections>>();
assertType<Equal<ServerConfig, Defaulted<typeof serverSchema>>>();

// The named types are the ones GatewayConfig is made of.
assertType<Equal<GatewayConfig['server'], ServerConfig>>();
assertType<Equal<GatewayConfig['envoy'], EnvoyConfig>>();
assertType<Equal<GatewayConfig['processor'], ProcessorConfig>>();
assertType<Equal<GatewayConfig['logging'], LoggingConfig>>();
assertType<Equal<GatewayConfig['providers'], ProviderConfig[]>>();
assertType<Equal<GatewayConfig['plugins'], PluginConfig[]>>();
assertType<Equal<GatewayConfig['demo'], { echo: EchoDemoConfig }>>();
assertType<Equal<GatewayConfig['store'], StoreConfig>>();
assertType<Equal<GatewayConfig['keys'], KeysConfig>>();
assertType<Equal<KeysConfig['admin'], AdminKeyConfig[]>>();
assertType<Equal<GatewayConfig['pricing'], PricingConfig>>();
assertType<Equal<PricingConfig['models'][string], ModelPriceConfig>>();
assertType<Equal<GatewayConfig['usage'], UsageConfig>>();
assertType<Equal<GatewayConfig['models'], ModelMappingConfig[]>>();
assertType<Equal<GatewayConfig['fallbacks'], FallbackConfig[]>>();
assertType<Equal<GatewayConfig['security'], SecurityConfig>>();
assertType<Equal<GatewayConfig['admin_auth'], AdminAuthConfig>>();
assertType<Equal<NonNullable<AdminAuthConfig['jwt']>, JwtAuthConfig>>();
assertType<Equal<GatewayConfig['routing'], RoutingConfig>>();
assertType<Equal<GatewayConfig['mtls'], MtlsConfig>>();
assertType<Equal<MtlsConfig['identities'], IdentityRule[]>>();
assertType<Equal<GatewayConfig['rate_limits'], RateLimitsConfig>>();
assertType<Equal<RateLimitsConfig['rules'], RateLimitRuleConfig[]>>();
assertType<Equal<NonNullable<RateLimitsConfig['local']>, LocalRateLimitConfig>>();

// After defaults, only the keys without a default may be absent.
assertType<Equal<OptionalKeys<GatewayConfig>, never>>();
assertType<Equal<OptionalKeys<ServerConfig>, never>>();
assertType<Equal<OptionalKeys<EnvoyConfig>, 'binary'>>();
assertType<Equal<OptionalKeys<ProcessorConfig>, never>>();
assertType<Equal<OptionalKeys<ProviderConfig>, 'api_key' | 'api_key_env'>>();
assertType<Equal<OptionalKeys<PluginConfig>, 'name'>>();
assertType<Equal<OptionalKeys<StoreConfig>, 'database_url'>>();
assertType<Equal<OptionalKeys<KeysConfig>, 'file'>>();
assertType<Equal<OptionalKeys<AdminKeyConfig>, 'key' | 'sha256'>>();
assertType<Equal<OptionalKeys<ModelMappingConfig>, 'provider' | 'model' | 'deployments' | 'display_name' | 'context_window'>>();
assertType<Equal<OptionalKeys<NonNullable<ModelMappingConfig['deployments']>[number]>, never>>();
assertType<Equal<OptionalKeys<FallbackConfig>, never>>();
assertType<Equal<OptionalKeys<MtlsConfig>, 'server_cert' | 'server_key' | 'client_ca'>>();
assertType<Equal<OptionalKeys<IdentityRule>, 'id' | 'user' | 'team' | 'allowed_models' | 'allowed_providers' | 'quota_limit'>>();
assertType<Equal<OptionalKeys<RateLimitsConfig>, 'redis_url' | 'local'>>();
assertType<Equal<OptionalKeys<RateLimitRuleConfig>, Exclude<keyof RateLimitRuleConfig, 'name' | 'match'>>>();
assertType<Equal<OptionalKeys<JwtAuthConfig>, 'hs256_secret' | 'rs256_public_key' | 'jwks_file' | 'issuer' | 'audience'>>();
assertType<Equal<ProcessorConfig['workers'], number | 'auto'>>();
assertType<Equal<EnvoyConfig['log_level'], 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off'>>();
assertType<Equal<FallbackConfig['on'], (number | 'rate_limit_exceeded' | 'server_error' | 'timeout' | 'connect_failure')[]>>();
assertType<Equal<JwtAuthConfig['audience'], string | string[] | undefined>>();

// Shapes still declared by hand outside src/config must stay the schema's (see src/domain and
// src/usage/pricing.ts); a difference fails here rather than at some distant call.
assertType<Equal<SecurityConfig, SecuritySettings>>();
assertType<Equal<PricingConfig, PricingConfigOfPricing>>();
assertType<Equal<ModelPriceConfig, ModelPrice>>();

// The embedded default configuration is a valid gateway.yaml as far as types can tell.
embeddedDefaults satisfies GatewayConfigInput;

// A loaded configuration cannot lack a defaulted key.
// @ts-expect-error http_enabled has a default, so it is always present
const _server: ServerConfig = { listen_address: '0.0.0.0', http_port: 1, max_request_body_bytes: 1, request_timeout_seconds: 1, stream_idle_timeout_seconds: 1, shutdown_grace_seconds: 1 };

// ---------------------------------------------------------------------------------------------
// Run time

/** A gateway.yaml that reaches every object the schema describes (each array and map item too). */
const everything = {
  server: {},
  envoy: {},
  processor: { workers: 2 },
  logging: {},
  providers: [{ name: 'p', type: 'openai', base_url: 'https://api.example.com/v1' }],
  plugins: [{ use: 'virtual-keys' }],
  demo: { echo: {} },
  store: {},
  keys: { admin: [{ id: 'admin', key: 'admin-secret-1' }] },
  pricing: { models: { m: { input: 1, output: 2 } }, tier_multipliers: { langchain: 1.2 } },
  usage: {},
  models: [{ id: 'x', deployments: [{ provider: 'p', model: 'm' }] }],
  fallbacks: [{ model: 'x', fallback_models: ['y'] }],
  security: {},
  admin_auth: { jwt: { hs256_secret: 'a-secret-of-at-least-32-bytes-long!!' } },
  routing: {},
  mtls: { identities: [{ match: 'spiffe://example.org/*' }] },
  rate_limits: { rules: [{ name: 'r', requests_per_minute: 1 }], local: { requests_per_second: 1 } },
  budgets: { teams: { research: { tokens: 1000, usd: 5 } } },
  mcp: { enabled: true, servers: [{ name: 'files', url: 'http://files:8000/mcp' }], access: [{ teams: ['qa'] }] },
};

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  default?: unknown;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  anyOf?: SchemaNode[];
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Walks a schema beside a loaded value; returns a problem for each key the derived type says is
 * present (required, or with a default) but is missing, and records which object schemas were
 * reached.
 */
function walk(schema: SchemaNode, value: unknown, at: string, reached: Set<string>, problems: string[]): void {
  if (schema.properties && isMap(value)) {
    reached.add(at);
    for (const [key, sub] of Object.entries(schema.properties)) {
      const present = Object.hasOwn(value, key);
      const promised = schema.required?.includes(key) || sub.default !== undefined;
      if (promised && !present) problems.push(`${at}.${key}: missing after loading`);
      if (present) walk(sub, value[key], `${at}.${key}`, reached, problems);
    }
  }
  if (schema.items && Array.isArray(value)) value.forEach((v) => walk(schema.items!, v, `${at}[]`, reached, problems));
  if (isMap(schema.additionalProperties) && isMap(value)) {
    for (const v of Object.values(value)) walk(schema.additionalProperties, v, `${at}{}`, reached, problems);
  }
  for (const alt of schema.anyOf ?? []) walk(alt, value, at, reached, problems);
}

/** Every object schema (with properties) inside `schema`, named as walk names them. */
function objectSchemas(schema: SchemaNode, at: string, out: Set<string>): Set<string> {
  if (schema.properties) {
    out.add(at);
    for (const [key, sub] of Object.entries(schema.properties)) objectSchemas(sub, `${at}.${key}`, out);
  }
  if (schema.items) objectSchemas(schema.items, `${at}[]`, out);
  if (isMap(schema.additionalProperties)) objectSchemas(schema.additionalProperties, `${at}{}`, out);
  for (const alt of schema.anyOf ?? []) objectSchemas(alt, at, out);
  return out;
}

const root = gatewayConfigSchema as unknown as SchemaNode;

describe('one source for the gateway.yaml schema and its types', () => {
  test('every key the types promise (required or defaulted) is there after loading, at every depth', () => {
    for (const raw of [{}, everything]) {
      const reached = new Set<string>();
      const problems: string[] = [];
      walk(root, parseConfig(structuredClone(raw), '/tmp', {}), '', reached, problems);
      expect(problems).toEqual([]);
      if (raw === everything) expect([...objectSchemas(root, '', new Set())].filter((s) => !reached.has(s))).toEqual([]);
    }
  });

  test('a key without a default stays absent when the file leaves it out', () => {
    const c = parseConfig(structuredClone(everything), '/tmp', {});
    expect(Object.hasOwn(c.envoy, 'binary')).toBe(false);
    expect(Object.hasOwn(c.store, 'database_url')).toBe(false);
    expect(Object.hasOwn(c.rate_limits, 'redis_url')).toBe(false);
    expect(Object.hasOwn(c.providers[0], 'api_key')).toBe(false);
  });

  test('the loaded configuration has the schema keys and base_dir, nothing else', () => {
    const c = parseConfig({}, '/tmp', {});
    expect(Object.keys(c).sort()).toEqual([...Object.keys(gatewayConfigSchema.properties), 'base_dir'].sort());
  });

  test('every port the schema defines is known to the port checks (collisions, bind check)', () => {
    const c = parseConfig(structuredClone(everything), '/tmp', {});
    c.mtls.enabled = true; // (loading it enabled needs certificate files; the port list does not)
    const portKeys: string[] = [];
    const findPorts = (s: SchemaNode, at: string) => {
      const p = s as SchemaNode & { minimum?: number; maximum?: number };
      if (p.type === 'integer' && p.minimum === 0 && p.maximum === 65535) portKeys.push(at);
      for (const [k, sub] of Object.entries(s.properties ?? {})) findPorts(sub, at ? `${at}.${k}` : k);
    };
    findPorts(root, '');
    expect(portKeys.length).toBeGreaterThan(5);
    expect(listeningPorts(c).map((p) => p.key).sort()).toEqual(portKeys.sort());
  });

  test('the schemas are plain JSON Schema: what ajv compiles survives a JSON round trip unchanged', () => {
    const plain = (s: TSchema) => JSON.parse(JSON.stringify(s)) as unknown;
    for (const s of [gatewayConfigSchema, serverSchema, pricingSchema, securitySchema]) {
      const json = plain(s);
      // TypeBox only adds symbol-keyed metadata, which JSON (and ajv) never see: no key is lost.
      const stringKeys = (v: unknown): number => (isMap(v) ? Object.keys(v).length + Object.values(v).reduce<number>((n, x) => n + stringKeys(x), 0) : Array.isArray(v) ? v.reduce<number>((n, x) => n + stringKeys(x), 0) : 0);
      expect(stringKeys(json)).toBe(stringKeys(s));
    }
    // Keywords the hand-written schema used, kept as such (TypeBox's own builders would emit
    // anyOf/const+type/patternProperties instead, with other errors).
    const server = gatewayConfigSchema.properties.processor.properties;
    expect(JSON.parse(JSON.stringify(server.workers))).toEqual({ oneOf: [{ type: 'integer', minimum: 1, maximum: 64 }, { const: 'auto' }], default: 'auto' });
    expect(JSON.parse(JSON.stringify(gatewayConfigSchema.properties.envoy.properties.log_level))).toEqual({
      enum: ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'],
      default: 'warning',
    });
    expect(JSON.parse(JSON.stringify(gatewayConfigSchema.properties.pricing.properties.tier_multipliers))).toEqual({
      type: 'object',
      additionalProperties: { type: 'number', minimum: 0 },
      default: {},
    });
  });
});
