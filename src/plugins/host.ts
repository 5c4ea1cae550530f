import type { PluginConfig } from '../config/types';
import { GatewayError, isGatewayError } from '../domain/errors';
import type { Logger } from '../observability/logger';
import { withTimeout } from '../util/async';
import { importPlugin, validatePluginOptions } from './loader';
import type { HookName, PluginHostApi, PluginHooks, RequestContext, ShortCircuit } from './api';

export interface LoadedPlugin {
  readonly name: string;
  readonly hooks: PluginHooks;
  readonly timeoutMs: number;
  readonly onError: 'fail_open' | 'fail_closed';
}

export interface PluginFailure {
  plugin: string;
  hook: HookName;
  policy: 'fail_open' | 'fail_closed';
}

class PluginTimeout extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

const HOOKS: HookName[] = [
  'onRequestHeaders',
  'onRequest',
  'onUpstreamAttempt',
  'onResponseHeaders',
  'onResponseChunk',
  'onResponse',
  'onComplete',
];

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | undefined)?.then === 'function';
}

/**
 * Runs the configured plugins' hooks in order. Synchronous hooks run without any promise or
 * timer; asynchronous ones race a per-plugin timeout. A GatewayError is an intended rejection
 * and always becomes the response; any other failure follows the plugin's on_error policy.
 */
export class PluginHost {
  private readonly byHook: Record<HookName, LoadedPlugin[]>;

  constructor(
    readonly plugins: LoadedPlugin[],
    private readonly log: Logger,
    private readonly onFailure: (f: PluginFailure) => void = () => {},
  ) {
    this.byHook = Object.fromEntries(HOOKS.map((h) => [h, plugins.filter((p) => typeof p.hooks[h] === 'function')])) as Record<
      HookName,
      LoadedPlugin[]
    >;
  }

  static async load(configs: PluginConfig[], api: Omit<PluginHostApi, 'log'> & { log: Logger }, onFailure?: (f: PluginFailure) => void): Promise<PluginHost> {
    const loaded: LoadedPlugin[] = [];
    for (const [i, cfg] of configs.entries()) {
      if (!cfg.enabled) continue;
      const def = await importPlugin(cfg.use, api.baseDir);
      const options = validatePluginOptions(def, cfg, i);
      const name = cfg.name ?? def.name;
      const hooks = await def.create(options, { ...api, log: api.log.child({ plugin: name }) });
      loaded.push({ name, hooks, timeoutMs: cfg.timeout_ms, onError: cfg.on_error });
      api.log.debug({ plugin: name, source: cfg.use }, 'plugin loaded');
    }
    return new PluginHost(loaded, api.log, onFailure);
  }

  has(hook: HookName): boolean {
    return this.byHook[hook].length > 0;
  }

  /** Runs one stage; returns the short-circuit reply if a plugin answered or failed closed. */
  async run(hook: Exclude<HookName, 'onComplete'>, ctx: RequestContext, arg?: unknown): Promise<ShortCircuit | undefined> {
    for (const p of this.byHook[hook]) {
      let result: unknown;
      try {
        result = (p.hooks[hook] as (c: RequestContext, a?: unknown) => unknown).call(p.hooks, ctx, arg);
        if (isThenable(result)) result = await withTimeout(result, p.timeoutMs, () => new PluginTimeout(p.timeoutMs));
      } catch (err) {
        const reply = this.handleError(p, hook, ctx, err);
        if (reply) return reply;
        continue;
      }
      if (result && (result as ShortCircuit).kind === 'respond') return result as ShortCircuit;
    }
    return undefined;
  }

  /** Observational stage: failures are logged, never turned into responses. */
  async complete(ctx: RequestContext): Promise<void> {
    for (const p of this.byHook.onComplete) {
      try {
        const r = p.hooks.onComplete!(ctx);
        if (isThenable(r)) await withTimeout(r, p.timeoutMs, () => new PluginTimeout(p.timeoutMs));
      } catch (err) {
        this.onFailure({ plugin: p.name, hook: 'onComplete', policy: 'fail_open' });
        this.log.error({ plugin: p.name, hook: 'onComplete', request_id: ctx.requestId, err: describe(err) }, 'plugin failed');
      }
    }
  }

  async close(): Promise<void> {
    for (const p of [...this.plugins].reverse()) {
      try {
        await p.hooks.close?.();
      } catch (err) {
        this.log.error({ plugin: p.name, err: describe(err) }, 'plugin failed to close');
      }
    }
  }

  private handleError(p: LoadedPlugin, hook: HookName, ctx: RequestContext, err: unknown): ShortCircuit | undefined {
    if (isGatewayError(err)) {
      return { kind: 'respond', status: err.status, body: err.toBody(), headers: err.headers };
    }
    this.onFailure({ plugin: p.name, hook, policy: p.onError });
    this.log.error(
      { plugin: p.name, hook, policy: p.onError, request_id: ctx.requestId, err: describe(err) },
      `plugin "${p.name}" failed in ${hook}`,
    );
    if (p.onError === 'fail_open') return undefined;
    const timedOut = err instanceof PluginTimeout;
    const body = new GatewayError(
      500,
      timedOut ? 'plugin_timeout' : 'plugin_error',
      `plugin "${p.name}" ${timedOut ? 'timed out' : 'failed'} during ${hook}`,
      { type: 'server_error' },
    ).toBody();
    return { kind: 'respond', status: 500, body };
  }
}


/** Error summary for logs: message and stack only, never arbitrary properties that may hold secrets. */
function describe(err: unknown): { message: string; stack?: string } {
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  return { message: String(err) };
}
