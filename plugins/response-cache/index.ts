import {
  allowsModel,
  allowsProvider,
  CACHED_ANSWER_METADATA,
  definePlugin,
  respond,
  type CachedAnswer,
  type JsonObject,
  type JsonValue,
  type PluginHostApi,
  type Principal,
  type RequestContext,
  type ShortCircuit,
  type StreamEvent,
  type TokenUsage,
} from '../../src';
import { cacheKey, type Scope } from './key';
import { replayAsStream, StreamAssembler } from './replay';
import { MemoryCache, RedisCache, entryBytes, type CacheBackend } from './store';

/**
 * Response caching: an answer to a request that exactly repeats an earlier one (same endpoint,
 * model, messages, tools and sampling parameters, from the same team) is served by the gateway
 * itself, before anything goes upstream, as a buffered JSON body or replayed as a stream,
 * whichever the client asked for. Off unless enabled globally, per model or per key.
 *
 * Runs in onRequest after model-router (routing and the access policy have run) and after
 * content-filter (a blocked request never gets a cached answer; a redacted one is keyed on what
 * would go upstream). Stores in onComplete, only complete 200 answers: never errors, partial or
 * cancelled streams, or answers the response content filter could have changed (while response
 * rules are in force, caching is bypassed). A hit leaves a CachedAnswer in ctx.metadata for the
 * usage recorder: one record, flagged cached, priced at `cost_multiplier` times the list price.
 */

export type CacheEndpoint = 'chat.completions' | 'embeddings';

export interface ModelRule {
  /** Overrides `enabled` for these models (true opts them in while caching is off globally). */
  enabled?: boolean;
  ttl_seconds?: number;
}

export interface Options {
  enabled: boolean;
  ttl_seconds: number;
  /** Per model id or `prefix*`: the exact id wins, then the longest prefix. */
  models: Record<string, ModelRule>;
  endpoints: CacheEndpoint[];
  /** Who shares entries: `team` (the key's team, else the key alone) or `key`. */
  scope: 'team' | 'key';
  /** Redis URL; default $REDIS_URL; empty: the in-process cache. */
  redis_url?: string;
  redis_prefix: string;
  redis_timeout_ms: number;
  max_bytes: number;
  max_entry_bytes: number;
  sweep_interval_seconds: number;
  cost_multiplier: number;
}

/** The key metadata field that opts a virtual key in (true) or out (false). */
export const KEY_METADATA_FIELD = 'response_cache';
export const CACHE_HEADER = 'x-gateway-cache';
/** Where content-filter keeps the rules a request is filtered with (its `response` list). */
const CONTENT_FILTER_RULES = 'content-filter.filters';

/** One stored answer. */
interface Entry {
  v: 1;
  /** The completion (or embeddings list) as a buffered request gets it, usage included. */
  body: JsonValue;
  usage: TokenUsage | null;
  /** The model that answered (the response's `model`). */
  model: string | null;
  /** Epoch milliseconds. */
  storedAt: number;
}

/** A request the cache applies to, between onRequest and onComplete. */
interface Pending {
  key: string;
  ttlMs: number;
  /** Store the live answer (false under `Cache-Control: no-store`). */
  write: boolean;
  assembler?: StreamAssembler;
}

const isObj = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isThenable = <T>(v: unknown): v is Promise<T> => typeof (v as Promise<T> | undefined)?.then === 'function';

/** The request's Cache-Control directives the cache honours. */
export function cacheControl(header: string | undefined): { noCache: boolean; noStore: boolean } {
  const directives = new Set((header ?? '').split(',').map((d) => d.split('=')[0]!.trim().toLowerCase()));
  return { noCache: directives.has('no-cache'), noStore: directives.has('no-store') };
}

/** Compiled `models` rules: exact ids, then `prefix*` patterns longest first. */
export function modelRules(models: Record<string, ModelRule>): (model: string) => ModelRule | undefined {
  const exact = new Map<string, ModelRule>();
  const prefixes: [string, ModelRule][] = [];
  for (const [pattern, rule] of Object.entries(models)) {
    if (pattern.endsWith('*')) prefixes.push([pattern.slice(0, -1), rule]);
    else exact.set(pattern, rule);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  return (model) => exact.get(model) ?? prefixes.find(([p]) => model.startsWith(p))?.[1];
}

/** The key's own choice, from its metadata (`response_cache: true | false`), if any. */
function keyPreference(p: Principal | undefined): boolean | undefined {
  const metadata = p?.attributes?.metadata;
  const v = isObj(metadata) ? metadata[KEY_METADATA_FIELD] : undefined;
  return typeof v === 'boolean' ? v : undefined;
}

/**
 * Whether and for how long a request's answer is cached: a key's `false` always wins; a model
 * rule's `enabled: false` beats a key's `true`; otherwise a key's `true`, the model rule's
 * `enabled`, then the global `enabled`.
 */
export function cachePolicy(options: Pick<Options, 'enabled' | 'ttl_seconds'>, rule: ModelRule | undefined, keyPref: boolean | undefined): { ttlMs: number } | undefined {
  if (keyPref === false || rule?.enabled === false) return undefined;
  const on = keyPref === true || (rule?.enabled ?? options.enabled);
  return on ? { ttlMs: (rule?.ttl_seconds ?? options.ttl_seconds) * 1000 } : undefined;
}

/** Entries are never shared across teams; a key without a team shares with nobody. */
export function scopeOf(p: Principal | undefined, scope: Options['scope']): Scope {
  if (!p) return { global: true };
  if (scope === 'team' && p.team) return { team: p.team };
  return { key: `${p.kind}:${p.id}` };
}

/** A buffered answer worth storing: a non-empty completion, or an embeddings list. */
function storable(endpoint: string, body: JsonValue | undefined): body is JsonObject {
  if (!isObj(body) || body.error !== undefined) return false;
  if (endpoint === 'embeddings') return Array.isArray(body.data);
  return Array.isArray(body.choices) && body.choices.length > 0 && body.choices.every((c) => isObj(c) && typeof c.finish_reason === 'string');
}

function parseEntry(raw: string): Entry | undefined {
  try {
    const e = JSON.parse(raw) as Entry;
    return isObj(e) && e.v === 1 && e.body !== undefined ? e : undefined;
  } catch {
    return undefined;
  }
}

/** The URL without credentials, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable)';
  }
}

export interface CreateOverrides {
  /** Epoch milliseconds (tests). */
  now?: () => number;
  backend?: CacheBackend;
}

/** Builds the hooks; `overrides` lets unit tests inject a clock or a backend. */
export function createResponseCache(options: Options, host: PluginHostApi, overrides: CreateOverrides = {}) {
  const now = overrides.now ?? Date.now;
  const url = options.redis_url ?? process.env.REDIS_URL ?? '';
  const m = host.metrics;
  const lookups = m.counter('gateway_response_cache_lookups_total', 'Response cache lookups, by backend and result (hit, miss, bypass: Cache-Control, error)', ['backend', 'result']);
  const stores = m.counter('gateway_response_cache_stores_total', 'Answers offered to the response cache, by backend and result (stored, skipped, too_large, error)', ['backend', 'result']);
  const bytes = m.counter('gateway_response_cache_bytes_total', 'Bytes of cache entries written (stored) and answered from the cache (served), by backend', ['backend', 'op']);
  const evictions = m.counter('gateway_response_cache_evictions_total', 'Entries dropped from the in-process response cache, by reason (size: LRU, expired)', ['reason']);
  const errors = m.counter('gateway_response_cache_errors_total', 'Response cache backend failures (the request is served uncached), by backend and operation', ['backend', 'op']);

  let sweeper: NodeJS.Timeout | undefined;
  let backend: CacheBackend;
  if (overrides.backend) backend = overrides.backend;
  else if (url) backend = new RedisCache({ url, prefix: options.redis_prefix, timeoutMs: options.redis_timeout_ms, log: host.log });
  else {
    const memory = new MemoryCache({ maxBytes: options.max_bytes, now, onEvict: (reason) => evictions.inc({ reason }) });
    sweeper = setInterval(() => memory.sweep(), options.sweep_interval_seconds * 1000);
    sweeper.unref();
    backend = memory;
  }
  const b = { backend: backend.name };
  host.log.info(
    {
      backend: backend.name,
      redis: backend.name === 'redis' ? redact(url) : undefined,
      enabled: options.enabled,
      models: Object.keys(options.models),
      ttl_seconds: options.ttl_seconds,
      scope: options.scope,
      max_bytes: backend.name === 'memory' ? options.max_bytes : undefined,
    },
    'response cache',
  );

  const endpoints = new Set<string>(options.endpoints);
  const ruleFor = modelRules(options.models);
  const pending = new WeakMap<RequestContext, Pending>();
  let lastErrorLog = 0;

  const failed = (op: 'get' | 'set', err: unknown) => {
    errors.inc({ ...b, op });
    if (op === 'get') lookups.inc({ ...b, result: 'error' });
    else stores.inc({ ...b, result: 'error' });
    const t = Date.now();
    if (t - lastErrorLog < 10_000) return;
    lastErrorLog = t;
    host.log.warn({ op, err: { message: (err as Error)?.message ?? String(err) } }, 'response cache unavailable: serving uncached');
  };

  /** Whether content-filter has response rules for this request: it could change the answer. */
  const responseFiltered = (ctx: RequestContext) => {
    const f = ctx.metadata.get(CONTENT_FILTER_RULES) as { response?: unknown[] } | undefined;
    return Array.isArray(f?.response) && f.response.length > 0;
  };

  const usable = (ctx: RequestContext, model: string): boolean => {
    const p = ctx.principal;
    const target = ctx.target!;
    // The core would refuse these; a cached answer must not get round it.
    if (!allowsModel(p, model) || !allowsProvider(p, target.provider)) return false;
    const info = host.providers.get(target.provider);
    const ownKey = p?.credentialFor === '*' || p?.credentialFor === target.provider;
    return Boolean(info && (info.available || ownKey));
  };

  const serve = (ctx: RequestContext, raw: string | undefined): ShortCircuit | undefined => {
    if (raw === undefined) {
      lookups.inc({ ...b, result: 'miss' });
      return undefined;
    }
    const entry = parseEntry(raw);
    const { request } = ctx;
    const streamed = request.stream && request.endpoint === 'chat.completions';
    const so = request.body?.stream_options;
    const sse = entry && streamed ? replayAsStream(entry.body, isObj(so) && so.include_usage === true) : undefined;
    if (!entry || (streamed && sse === undefined)) {
      // Unreadable, or an answer a stream cannot carry: the request goes upstream.
      lookups.inc({ ...b, result: 'miss' });
      return undefined;
    }
    pending.delete(ctx);
    const headers: Record<string, string> = streamed ? { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } : { 'content-type': 'application/json' };
    headers[CACHE_HEADER] = 'hit';
    headers.age = String(Math.max(0, Math.floor((now() - entry.storedAt) / 1000)));
    const usage = entry.usage ?? undefined;
    const target = ctx.target!;
    let costUsd = 0;
    if (options.cost_multiplier > 0 && usage) {
      const tier = ctx.principal?.tier;
      const list = (entry.model ? host.pricing.cost(entry.model, usage, tier) : undefined) ?? host.pricing.cost(target.model, usage, tier) ?? 0;
      costUsd = list * options.cost_multiplier;
    }
    const answer: CachedAnswer = { usage, costUsd, model: entry.model ?? undefined, streamed };
    ctx.metadata.set(CACHED_ANSWER_METADATA, answer);
    lookups.inc({ ...b, result: 'hit' });
    const body = sse ?? JSON.stringify(entry.body);
    bytes.inc({ ...b, op: 'served' }, Buffer.byteLength(body));
    return respond(200, body, headers);
  };

  return {
    onRequest(ctx: RequestContext): void | ShortCircuit | Promise<void | ShortCircuit> {
      const { request } = ctx;
      const body = request.body;
      const model = request.model;
      if (!endpoints.has(request.endpoint) || request.method !== 'POST' || !body || !model || !ctx.target) return;
      const policy = cachePolicy(options, ruleFor(model), keyPreference(ctx.principal));
      if (!policy || responseFiltered(ctx) || !usable(ctx, model)) return;

      const cc = cacheControl(request.headers.get('cache-control'));
      const state: Pending = { key: '', ttlMs: policy.ttlMs, write: !cc.noStore };
      pending.set(ctx, state);
      if (state.write) state.key = cacheKey(scopeOf(ctx.principal, options.scope), request.endpoint, body);
      // no-cache: the live answer replaces the entry; no-store: the cache is not touched at all.
      if (cc.noStore || cc.noCache) {
        lookups.inc({ ...b, result: 'bypass' });
        return;
      }

      let got: string | undefined | Promise<string | undefined>;
      try {
        got = backend.get(state.key);
      } catch (err) {
        return failed('get', err);
      }
      if (!isThenable<string | undefined>(got)) return serve(ctx, got);
      return got.then(
        (raw) => serve(ctx, raw),
        (err) => failed('get', err),
      );
    },

    onResponseHeaders(ctx: RequestContext): void {
      const state = pending.get(ctx);
      if (!state) return;
      ctx.setResponseHeader(CACHE_HEADER, 'miss');
      const res = ctx.response;
      if (state.write && res?.status === 200 && res.streamed && ctx.request.endpoint === 'chat.completions') state.assembler = new StreamAssembler();
    },

    onResponseChunk(ctx: RequestContext, event: StreamEvent): void {
      pending.get(ctx)?.assembler?.push(event);
    },

    onComplete(ctx: RequestContext): void {
      const state = pending.get(ctx);
      if (!state) return;
      pending.delete(ctx);
      const res = ctx.response;
      if (!state.write || ctx.outcome !== 'completed' || ctx.finalStatus !== 200 || res?.status !== 200) return;
      const body = res.streamed ? state.assembler?.result() : storable(ctx.request.endpoint, res.body) ? res.body : undefined;
      if (!body) {
        stores.inc({ ...b, result: 'skipped' });
        return;
      }
      const entry: Entry = { v: 1, body, usage: ctx.usage ?? null, model: ctx.servedModel ?? null, storedAt: now() };
      const value = JSON.stringify(entry);
      const size = entryBytes(state.key, value);
      if (size > options.max_entry_bytes) {
        stores.inc({ ...b, result: 'too_large' });
        return;
      }
      const stored = (ok: boolean) => {
        stores.inc({ ...b, result: ok ? 'stored' : 'too_large' });
        if (ok) bytes.inc({ ...b, op: 'stored' }, size);
      };
      let r: boolean | Promise<boolean>;
      try {
        r = backend.set(state.key, value, state.ttlMs);
      } catch (err) {
        return failed('set', err);
      }
      // Not awaited: the client has its answer, and later onComplete hooks need not wait.
      if (isThenable<boolean>(r)) r.then(stored, (err) => failed('set', err));
      else stored(r);
    },

    async close(): Promise<void> {
      if (sweeper) clearInterval(sweeper);
      await backend.close();
    },
  };
}

export default definePlugin<Options>({
  name: 'response-cache',
  description: 'Answers exact repeats of earlier requests from a cache (memory or Redis), per team',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      enabled: { type: 'boolean', default: false },
      ttl_seconds: { type: 'number', exclusiveMinimum: 0, default: 300 },
      models: {
        type: 'object',
        default: {},
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, ttl_seconds: { type: 'number', exclusiveMinimum: 0 } },
        },
      },
      endpoints: { type: 'array', items: { enum: ['chat.completions', 'embeddings'] }, uniqueItems: true, default: ['chat.completions', 'embeddings'] },
      scope: { enum: ['team', 'key'], default: 'team' },
      redis_url: { type: 'string' },
      redis_prefix: { type: 'string', default: 'llm-gateway:response-cache:' },
      redis_timeout_ms: { type: 'integer', minimum: 1, maximum: 5000, default: 200 },
      max_bytes: { type: 'integer', minimum: 1024, default: 64 * 1024 * 1024 },
      max_entry_bytes: { type: 'integer', minimum: 256, default: 1024 * 1024 },
      sweep_interval_seconds: { type: 'integer', minimum: 1, default: 60 },
      cost_multiplier: { type: 'number', minimum: 0, default: 0 },
    },
  },
  create(options, host) {
    return createResponseCache(options, host);
  },
});
