/**
 * The validated gateway configuration (gateway.yaml after defaults are applied). Every type is
 * derived from its JSON Schema (./schema.ts and the sections it composes), never declared by
 * hand: `Defaulted` makes a property with a default present and leaves the rest as the schema
 * says. Field documentation lives on the schema.
 */

import type { Static } from '@sinclair/typebox';
import type { Defaulted } from './schema-kit';
import type {
  bodyLoggingSchema,
  deploymentSchema,
  echoDemoSchema,
  envoySchema,
  fallbackSchema,
  gatewayConfigSchema,
  keySourceSchema,
  keysSchema,
  logFileSchema,
  loggingSchema,
  modelMappingSchema,
  pluginSchema,
  priceSchema,
  pricingSchema,
  processorSchema,
  providerSchema,
  routingSchema,
  securitySchema,
  serverSchema,
  storeSchema,
  tracingSchema,
  usageSchema,
} from './schema';

export type { Defaulted } from './schema-kit';
export type { AdminAuthConfig, JwtAuthConfig } from '../admin/jwt-config';
export type { IdentityRule, MtlsConfig } from '../identity/config';
export type { LocalRateLimitConfig, RateLimitRuleConfig, RateLimitsConfig } from '../ratelimit/config';

export type ServerConfig = Defaulted<typeof serverSchema>;
export type EnvoyConfig = Defaulted<typeof envoySchema>;
export type ProcessorConfig = Defaulted<typeof processorSchema>;
export type LoggingConfig = Defaulted<typeof loggingSchema>;
export type LogFileConfig = Defaulted<typeof logFileSchema>;
export type BodyLoggingConfig = Defaulted<typeof bodyLoggingSchema>;
export type TracingConfig = Defaulted<typeof tracingSchema>;
export type ProviderConfig = Defaulted<typeof providerSchema>;
export type PluginConfig = Defaulted<typeof pluginSchema>;
export type EchoDemoConfig = Defaulted<typeof echoDemoSchema>;
export type StoreConfig = Defaulted<typeof storeSchema>;
export type AdminKeyConfig = Defaulted<typeof keySourceSchema>;
export type KeysConfig = Defaulted<typeof keysSchema>;
export type ModelPriceConfig = Defaulted<typeof priceSchema>;
export type PricingConfig = Defaulted<typeof pricingSchema>;
export type UsageConfig = Defaulted<typeof usageSchema>;
export type DeploymentConfig = Defaulted<typeof deploymentSchema>;
export type ModelMappingConfig = Defaulted<typeof modelMappingSchema>;
export type FallbackConfig = Defaulted<typeof fallbackSchema>;
export type RoutingConfig = Defaulted<typeof routingSchema>;
/** Initial runtime security settings (the same shape as SecuritySettings in src/domain). */
export type SecurityConfig = Defaulted<typeof securitySchema>;

/** What gateway.yaml may hold (before defaults: keys with a default are optional). */
export type GatewayConfigInput = Static<typeof gatewayConfigSchema>;

/** gateway.yaml after validation, with its defaults filled. */
export interface GatewayConfig extends Defaulted<typeof gatewayConfigSchema> {
  /** Directory the configuration was loaded from; relative paths resolve against it. */
  base_dir: string;
}
