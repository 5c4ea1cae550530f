/**
 * Who is calling. Set by an authentication plugin (virtual keys, certificate identities, or one
 * of your own); read by the access policy, quotas, budgets, rate limits and usage records.
 */
export interface Principal {
  /** Stable id (virtual key id, certificate identity, JWT subject). Never the secret itself. */
  id: string;
  kind: 'api_key' | 'mtls' | 'jwt' | 'anonymous' | (string & {});
  user?: string;
  team?: string;
  tier?: string;
  /** Roles of a virtual key (`completion`, `embedding`, `admin`). */
  roles?: string[];
  /** Model ids or `prefix*` patterns the caller may use; absent or empty: any. */
  allowedModels?: string[];
  /** Providers the caller may reach; absent or empty: any. */
  allowedProviders?: string[];
  /** Requests per quota window for this caller, overriding the quota's default (null: the default). */
  quotaLimit?: number | null;
  /** Spend limits checked before admission (null: none). */
  budgets?: { tokens: number | null; usd: number | null };
  /**
   * The provider whose credential the caller brings (`*`: any provider), never the credential
   * itself; the core then sends no configured provider key for that provider.
   */
  credentialFor?: string | null;
  /** The verified client-certificate identity (mTLS), when the caller presented one. */
  identity?: string;
  /** Free-form values (e.g. a key's metadata) for plugins of your own. */
  attributes?: Record<string, unknown>;
}

/** The client certificate Envoy verified on the mTLS listener. */
export interface ClientCertificate {
  /** Its URI SAN (SPIFFE id), else its DNS SAN, else its subject. */
  identity: string;
  source: 'uri' | 'dns' | 'subject';
}

/** Whether `model` is one of `patterns`: an exact id, or a prefix when the pattern ends in `*`. */
export function modelMatches(patterns: readonly string[], model: string): boolean {
  return patterns.some((p) => p === model || (p.endsWith('*') && model.startsWith(p.slice(0, -1))));
}

/** Whether the caller may use the model (no allowed models: any). */
export function allowsModel(p: Principal | undefined, model: string): boolean {
  return !p?.allowedModels?.length || modelMatches(p.allowedModels, model);
}

/** Whether the caller may reach the provider (no allowed providers: any). */
export function allowsProvider(p: Principal | undefined, provider: string): boolean {
  return !p?.allowedProviders?.length || p.allowedProviders.includes(provider);
}
