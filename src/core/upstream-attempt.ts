import { GatewayError, isGatewayError } from '../domain/errors';
import type { Logger } from '../observability/logger';
import type { Tracer } from '../observability/tracing';
import type { PluginHost } from '../plugins/host';
import type { ProviderRegistry } from '../control/provider-registry';
import { translatorFor } from '../providers/translators';
import { providerDenied } from './access-policy';
import type { TranslationInput } from '../providers/types';
import { nextTargetFor, type InFlight, type PendingRequest } from './attempts';
import { planSurfaceAttempt, type SurfacePlan } from './surface-attempt';
import type { Continue, Directive, Respond } from './directives';

export interface AttemptDeps {
  plugins: PluginHost;
  providers: ProviderRegistry;
  inflight: InFlight;
  log: Logger;
  /** tracing.enabled: each attempt's span, and its `traceparent` for the provider. */
  tracer?: Tracer;
}

const json = (status: number, body: unknown, details: string): Respond => ({
  kind: 'respond',
  status,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify(body)),
  details,
});

/**
 * One upstream attempt: translates the request (parsed once, by the downstream exchange) for
 * its provider and sets its path, host and credential. A request that may fall back to other
 * providers goes through an aggregate cluster whose ext_proc filter asks for each attempt
 * (requestHeaders), so a fallback is a native request with that provider's key; a request with
 * a single target is prepared by the listener's exchange itself (prepare), and Envoy's
 * same-provider retries resend what it prepared.
 */
export class UpstreamAttempt {
  constructor(private readonly deps: AttemptDeps) {}

  /** `exchangeId` comes from Envoy's stream metadata, never from the request's headers. */
  async requestHeaders(providerName: string, exchangeId: string | undefined): Promise<Directive> {
    const pending = exchangeId ? this.deps.inflight.get(exchangeId) : undefined;
    return pending ? this.prepare(pending, providerName) : this.unroutable(exchangeId, providerName);
  }

  /** The next attempt of a routed request on `providerName`: hooks, translation, header and body edits. */
  async prepare(pending: PendingRequest, providerName: string): Promise<Directive> {
    const provider = this.deps.providers.get(providerName);
    const translator = provider && translatorFor(provider.type);
    const target = nextTargetFor(pending, providerName);
    if (!provider || !translator || !target) return this.unroutable(pending.ctx.id, providerName);
    const { ctx } = pending;
    pending.attempts++;
    pending.tried.push(target);
    ctx.assignTarget(target);
    ctx.providerCredential = undefined;

    const denied = providerDenied(ctx.principal, target.provider);
    if (denied) return json(denied.status, denied.toBody(), 'gateway_access_denied');
    // Edits made by this attempt's hooks (headers, body) apply to this attempt only.
    ctx.request.bodyChanged = false;
    const short = await this.deps.plugins.run('onUpstreamAttempt', ctx, { number: pending.attempts, target });
    if (short) return json(short.status, short.body, 'gateway_plugin_response');

    const apiKey = ctx.providerCredential ?? provider.apiKey;
    if (provider.requiresKey && !apiKey) {
      const err = new GatewayError(503, 'provider_not_configured', `The provider \`${provider.name}\` has no API key configured for this request.`);
      return json(503, err.toBody(), 'gateway_provider_not_configured');
    }
    const input: TranslationInput = { endpoint: ctx.request.endpoint, body: ctx.request.body, stream: ctx.request.stream, target, provider, apiKey };
    let upstream;
    let plan: SurfacePlan | undefined;
    let sent = input;
    try {
      // A client surface's request (src/surfaces): its own API natively, or translated, per provider.
      plan = pending.surface && planSurfaceAttempt(pending.surface, ctx.request.body ?? {}, provider, target.model, (h) => ctx.request.headers.get(h));
      if (plan?.kind === 'answer') {
        pending.current = { number: pending.attempts, target, provider, translator, input, native: true };
        return json(200, plan.body, 'gateway_local_answer');
      }
      if (plan) sent = { ...input, endpoint: plan.endpoint, body: plan.body };
      upstream = translator.request(sent);
      // A native answer is read against what plugins saw: the OpenAI view (Messages) or its own API (Responses).
      const read = plan?.kind === 'native' ? input : sent;
      pending.current = { number: pending.attempts, target, provider, translator, input: read, native: plan?.kind === 'native' };
    } catch (err) {
      if (isGatewayError(err)) return json(err.status, err.toBody(), 'gateway_translation_refused');
      throw err;
    }

    const edits = new Map<string, string | null>();
    for (const [k, v] of Object.entries(upstream.headers)) edits.set(k.toLowerCase(), v);
    if (plan?.kind === 'native') for (const [k, v] of Object.entries(plan.headers)) edits.set(k, v);
    for (const [k, v] of ctx.requestHeaderEdits.take()) edits.set(k, v);
    // The attempt's span; the provider gets a traceparent naming it (the gateway's, not the client's).
    const traceHeaders = this.deps.tracer?.startAttempt(ctx, { number: pending.attempts, target, server: provider.baseUrl });
    if (traceHeaders) for (const [k, v] of traceHeaders) edits.set(k, v);
    edits.set(':path', upstream.path);
    edits.set(':authority', provider.baseUrl.host);
    // A retry starts from the headers the last attempt sent: never carry one provider's
    // credential (or version headers) to another.
    for (const name of pending.headersSet ?? []) if (!edits.has(name)) edits.set(name, null);
    pending.headersSet = [...edits.keys()].filter((k) => !k.startsWith(':'));
    const out: Continue = { kind: 'continue', headers: edits };
    // Only a translated or hook-edited body replaces the one Envoy holds (already the
    // plugin-edited OpenAI body), serialised from the copy parsed downstream.
    // A surface's attempt always sends its body (an earlier attempt of the chain may have sent
    // another API's): the client's bytes when native and untouched, else what it was given.
    const body = upstream.body ?? (plan ? sent.body : ctx.request.bodyChanged ? ctx.request.body : undefined);
    if (plan?.kind === 'native' && plan.text !== undefined) out.body = Buffer.from(plan.text);
    else if (body) out.body = Buffer.from(JSON.stringify(body));
    if (out.body) edits.set('content-length', String(out.body.length));
    return out;
  }

  private unroutable(exchangeId: string | undefined, provider: string): Respond {
    this.deps.log.warn({ exchange_id: exchangeId, provider }, 'upstream attempt without a routed request');
    return json(503, new GatewayError(503, 'attempt_unroutable', 'The gateway lost track of this request; please retry.').toBody(), 'gateway_attempt_unroutable');
  }
}
