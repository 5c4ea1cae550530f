import Ajv from 'ajv';
import type { SecretBox } from '../keys/secrets';
import type { Logger } from '../observability/logger';
import type { ProviderRecord, ProviderStore } from '../store/types';
import { baseUrlProblem } from '../providers/base-url';
import { toRuntime, translatorFor, type ProviderRegistry } from './provider-registry';
import type { ProviderRuntime } from '../providers/types';

/** What publishes the provider clusters to Envoy (the xDS server), and how they are built. */
export interface ClusterPublisher {
  setClusters(clusters: Record<string, unknown>[]): string;
  waitForAck(version: string, timeoutMs: number): Promise<boolean>;
}

/** The Envoy clusters for the registry's current providers (and fallback chains). */
export type ClusterBuilder = (providers: ProviderRuntime[]) => Record<string, unknown>[];

/**
 * Body of POST /v1/providers (and PUT /v1/providers/{name}). A POST may be LiteLLM's short form,
 * `{base_url, api_key, model_names}`: `type` is then `openai-compatible` and the name is derived
 * from the base URL (deriveProviderName); a PUT names both.
 */
export interface ProviderSpec {
  name?: string;
  type?: string;
  base_url: string;
  api_key?: string;
  api_key_env?: string;
  model_names?: string[];
  models?: string[];
  headers?: Record<string, string>;
  timeout_seconds?: number;
}

const specSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['base_url'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    type: { type: 'string', minLength: 1, maxLength: 64 },
    base_url: { type: 'string', pattern: '^https?://[^/\\s?#]+(/[^\\s?#]*)?$', maxLength: 2048 },
    api_key: { type: 'string', minLength: 1, maxLength: 4096 },
    api_key_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    model_names: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000 },
    models: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000 },
    headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 50 },
    timeout_seconds: { type: 'number', minimum: 0, maximum: 86400 },
  },
} as const;
const validateSpec = new Ajv({ allErrors: false, strict: false }).compile<ProviderSpec>(specSchema);

/** The type of a provider whose POST body gives none (LiteLLM's short form). */
export const DEFAULT_PROVIDER_TYPE = 'openai-compatible';

const NAME_MAX = 63;

/**
 * A provider name from a base URL: its host (with an explicit port) in the name rules' letters,
 * `https://api.together.xyz/v1` → `api-together-xyz`, `http://localhost:11434/v1` →
 * `localhost-11434`; `provider` when nothing usable is left. Not yet unique (see ProviderManager).
 */
export function deriveProviderName(baseUrl: string): string {
  let host = '';
  try {
    host = new URL(baseUrl).host;
  } catch {
    // An unusable URL is refused (base_url) before a name is needed.
  }
  const slug = host
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    // Room for a `-NNN` suffix that makes it unique.
    .slice(0, NAME_MAX - 4)
    .replace(/-+$/, '');
  return slug || 'provider';
}

/** The spec's field for an ajv error: the top-level field for anything inside a model list. */
function specProblem(e: NonNullable<typeof validateSpec.errors>[number]): ProviderSpecError {
  if (e.keyword === 'additionalProperties') {
    const field = String(e.params.additionalProperty);
    return new ProviderSpecError(`Unknown field '${field}'.`, field);
  }
  if (e.keyword === 'required') {
    const field = String(e.params.missingProperty);
    return new ProviderSpecError(`'${field}' is required.`, field);
  }
  const field = e.instancePath.slice(1).replace(/\//g, '.');
  const list = /^(model_names|models)(\.|$)/.exec(field)?.[1];
  if (list) return new ProviderSpecError(`'${list}' must be an array of model names (at most 1000 strings of 1 to 256 characters).`, list);
  return new ProviderSpecError(`'${field}' ${e.message}.`, field);
}

export class ProviderSpecError extends Error {
  constructor(
    message: string,
    readonly param: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A provider as the admin API shows it: never the credential, only where it comes from. */
export function publicProvider(p: ProviderRuntime, source: 'config' | 'api', credential: string | null): Record<string, unknown> {
  return {
    name: p.name,
    type: p.type,
    base_url: p.baseUrl.toString().replace(/\/$/, ''),
    models: p.models,
    // Header values can be credentials (Azure's api-key): names only.
    header_names: Object.keys(p.headers),
    timeout_seconds: p.timeoutSeconds,
    source,
    cluster: p.cluster,
    has_api_key: Boolean(p.apiKey),
    api_key_env: credential?.startsWith('env:') ? credential.slice(4) : null,
  };
}

/**
 * Providers added, changed and removed at run time: kept in the store (so every replica and
 * every restart sees them), applied to the registry, and published to Envoy as clusters over
 * xDS. Providers from the configuration file are fixed; the API manages its own.
 */
export class ProviderManager {
  private readonly apiProviders = new Map<string, ProviderRecord>();
  /** Names derived for POSTs still being applied: two at once never get the same one. */
  private readonly derivingNames = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly store: ProviderStore,
    private readonly box: SecretBox,
    private readonly buildClusters: ClusterBuilder,
    private readonly publisher: ClusterPublisher | undefined,
    private readonly log: Logger,
    private readonly configNames: ReadonlySet<string>,
  ) {}

  /** Loads stored providers, publishes the clusters, and follows other replicas' changes. */
  async start(pollMs = 2000): Promise<void> {
    await this.sync();
    this.publish();
    this.timer = setInterval(() => {
      this.sync()
        .then((changed) => changed && this.publish())
        .catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'provider sync failed'));
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Follows the store now rather than at the next poll (another process changed providers). */
  async refresh(): Promise<void> {
    if (await this.sync()) this.publish();
  }

  source(name: string): 'config' | 'api' | undefined {
    return this.apiProviders.has(name) ? 'api' : this.configNames.has(name) ? 'config' : undefined;
  }

  storedCredential(name: string): string | null {
    return this.apiProviders.get(name)?.apiKey ?? null;
  }

  /** Applies the store's providers to the registry; true when anything changed. */
  private async sync(): Promise<boolean> {
    const stored = await this.store.list();
    let changed = false;
    const seen = new Set<string>();
    for (const rec of stored) {
      seen.add(rec.name);
      if (this.configNames.has(rec.name)) continue;
      const prev = this.apiProviders.get(rec.name);
      if (prev && prev.updatedAt === rec.updatedAt) continue;
      try {
        this.registry.upsert(this.runtime(rec));
        this.apiProviders.set(rec.name, rec);
        changed = true;
      } catch (err) {
        this.log.error({ provider: rec.name, err: { message: (err as Error).message } }, 'stored provider is unusable');
      }
    }
    for (const name of [...this.apiProviders.keys()]) {
      if (!seen.has(name)) {
        this.apiProviders.delete(name);
        this.registry.remove(name);
        changed = true;
      }
    }
    return changed;
  }

  private runtime(rec: ProviderRecord): ProviderRuntime {
    const envRef = rec.apiKey?.startsWith('env:') ? rec.apiKey.slice(4) : undefined;
    return toRuntime({
      name: rec.name,
      type: rec.type,
      base_url: rec.baseUrl,
      api_key: envRef ? undefined : (this.box.resolve(rec.apiKey) ?? undefined),
      api_key_env: envRef,
      models: rec.models,
      headers: rec.headers,
      timeout_seconds: rec.timeoutSeconds,
      // Not in the API's provider spec: a provider added there takes every API its type speaks natively.
      translated_apis: [],
    });
  }

  /** Sends Envoy the clusters for the current providers; returns the xDS version. */
  publish(): string | undefined {
    if (!this.publisher) return undefined;
    return this.publisher.setClusters(this.buildClusters(this.registry.all()));
  }

  /** Creates or replaces an API provider; resolves once Envoy has the cluster (or after 2 s). */
  /**
   * Creates or replaces an API provider; resolves once Envoy has the cluster (or after 2 s).
   * Without `nameFromPath` (a POST) the body may leave out `type` (openai-compatible) and `name`
   * (derived from the base URL, unique among all providers); a PUT's body names both.
   */
  async put(spec: unknown, nameFromPath?: string): Promise<{ provider: Record<string, unknown>; created: boolean; applied: boolean }> {
    if (!validateSpec(spec)) throw specProblem(validateSpec.errors![0]);
    if (nameFromPath !== undefined) {
      for (const field of ['name', 'type'] as const) if (spec[field] === undefined) throw new ProviderSpecError(`'${field}' is required.`, field);
      if (spec.name !== nameFromPath) throw new ProviderSpecError('The name in the body must match the path.', 'name');
    }
    const type = spec.type ?? DEFAULT_PROVIDER_TYPE;
    if (spec.name !== undefined && this.configNames.has(spec.name)) {
      throw new ProviderSpecError(`Provider '${spec.name}' is defined in the configuration file and cannot be changed through the API.`, 'name', 409);
    }
    if (!translatorFor(type)) throw new ProviderSpecError(`Unknown provider type '${type}'.`, 'type');
    if (spec.api_key && spec.api_key_env) throw new ProviderSpecError('Give api_key or api_key_env, not both.', 'api_key');
    const urlProblem = baseUrlProblem(spec.base_url);
    if (urlProblem) throw new ProviderSpecError(`'base_url' ${urlProblem}.`, 'base_url');
    if (spec.name !== undefined) return this.save(spec, spec.name, type);
    const name = await this.freeName(deriveProviderName(spec.base_url));
    try {
      return await this.save(spec, name, type);
    } finally {
      this.derivingNames.delete(name);
    }
  }

  /** `base`, else `base-2`, `base-3`, ...: the first name no provider (configured, live or stored) has; reserved until released. */
  private async freeName(base: string): Promise<string> {
    for (let i = 1; i <= 1000; i++) {
      const name = i === 1 ? base : `${base}-${i}`;
      if (this.configNames.has(name) || this.registry.get(name) || this.derivingNames.has(name)) continue;
      this.derivingNames.add(name);
      const stored = await this.store.get(name).catch((err: unknown) => {
        this.derivingNames.delete(name);
        throw err;
      });
      if (!stored) return name;
      this.derivingNames.delete(name);
    }
    throw new ProviderSpecError(`No free provider name starting with '${base}': give a 'name'.`, 'name', 409);
  }

  private async save(spec: ProviderSpec, name: string, type: string): Promise<{ provider: Record<string, unknown>; created: boolean; applied: boolean }> {
    const now = Date.now();
    const existing = await this.store.get(name);
    const rec: ProviderRecord = {
      name,
      type,
      baseUrl: spec.base_url,
      apiKey: spec.api_key_env ? `env:${spec.api_key_env}` : spec.api_key ? this.box.store(spec.api_key) : null,
      models: spec.model_names ?? spec.models ?? [],
      headers: spec.headers ?? {},
      timeoutSeconds: spec.timeout_seconds ?? 0,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    const runtime = this.runtime(rec);
    await this.store.upsert(rec);
    this.registry.upsert(runtime);
    this.apiProviders.set(rec.name, rec);
    const applied = await this.applied();
    return { provider: publicProvider(runtime, 'api', rec.apiKey), created: !existing, applied };
  }

  async remove(name: string): Promise<{ removed: boolean; applied: boolean }> {
    if (this.configNames.has(name)) {
      throw new ProviderSpecError(`Provider '${name}' is defined in the configuration file and cannot be removed through the API.`, 'name', 409);
    }
    const removed = await this.store.delete(name);
    this.apiProviders.delete(name);
    this.registry.remove(name);
    return { removed, applied: removed ? await this.applied() : true };
  }

  private async applied(): Promise<boolean> {
    const version = this.publish();
    return version === undefined ? true : this.publisher!.waitForAck(version, 2000);
  }
}
