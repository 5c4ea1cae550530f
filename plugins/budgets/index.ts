import {
  definePlugin,
  GatewayError,
  respond,
  type BudgetAccount,
  type BudgetAsk,
  type JsonValue,
  type Principal,
  type RequestContext,
  type ShortCircuit,
  type TokenUsage,
} from '../../src';
import { estimatePromptTokens, eventTextChars, outputLimitField, requestedOutputTokens, textTokens } from './estimate';

/**
 * Budgets that stop a stream (docs/budgets.md). Before a request goes upstream its worst case
 * (estimated prompt + its output limit, or budgets.default_max_output_tokens) is held against
 * the key's and its team's token and dollar budgets; a caller with less left than a minimal
 * request gets 429 `insufficient_quota`. A request whose worst case exceeds what is left is
 * admitted with what is left: a stream is counted as it passes, holds more in steps, and is ended
 * (an error event, then its API's proper end; the upstream cancelled) when nothing more is left;
 * a non-streamed request gets its output limit lowered to what is left. When the request ends, the
 * hold is replaced by what it really spent (the provider's usage, else the estimate).
 */

interface Options {
  /** While the ledger cannot be reached: refuse (503 budget_unavailable) or let requests through unbudgeted. */
  failure_mode: 'fail_closed' | 'fail_open';
}

/** One admitted request's hold and count. */
interface Hold {
  readonly accounts: BudgetAccount[];
  /** What the request holds of each account, in the account's unit. */
  readonly held: number[];
  /** Prompt tokens: the estimate, until the provider reports them. */
  prompt: number;
  /** Output tokens counted so far (the provider's count once it reports one). */
  out: number;
  readonly model: string;
  readonly tier: string | undefined;
  /** The plugin ended the stream. */
  cut: boolean;
  /** When the ledger last took or extended the hold (epoch ms): it lives budgets.hold_ttl_seconds from then. */
  touched: number;
}

const NOTHING_LEFT = {
  key: 'This key has used up its budget. Ask an administrator to raise it.',
  team: "This key's team has used up its budget. Ask an administrator to raise it.",
} as const;

export default definePlugin<Options>({
  name: 'budgets',
  description: 'Token and dollar budgets of keys and teams, held before admission and enforced while streaming',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { failure_mode: { enum: ['fail_closed', 'fail_open'], default: 'fail_closed' } },
  },
  create(options, host) {
    const ledger = host.budgets;
    const holds = new WeakMap<RequestContext, Hold>();
    const refusals = host.metrics.counter('gateway_budget_refusals_total', 'Requests refused because a budget was spent, by scope and unit', ['scope', 'unit']);
    const cuts = host.metrics.counter('gateway_budget_stream_cuts_total', 'Streams the gateway ended because a budget was spent, by scope and unit', ['scope', 'unit']);

    function accountsOf(p: Principal): BudgetAccount[] {
      const out: BudgetAccount[] = [];
      const own = p.budgets;
      if (own?.tokens != null) out.push({ scope: 'key', id: p.id, unit: 'tokens', limit: own.tokens });
      if (own?.usd != null) out.push({ scope: 'key', id: p.id, unit: 'usd', limit: own.usd });
      const team = p.team ? ledger.teamBudget(p.team) : undefined;
      if (team?.tokens != null) out.push({ scope: 'team', id: p.team!, unit: 'tokens', limit: team.tokens });
      if (team?.usd != null) out.push({ scope: 'team', id: p.team!, unit: 'usd', limit: team.usd });
      return out;
    }

    const usage = (prompt: number, completion: number): TokenUsage => ({ promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion });
    /** What `prompt` + `completion` tokens cost of an account (0 dollars for a model without a price). */
    const amount = (a: BudgetAccount, h: Pick<Hold, 'model' | 'tier'>, prompt: number, completion: number): number =>
      a.unit === 'tokens' ? prompt + completion : (host.pricing.cost(h.model, usage(prompt, completion), h.tier) ?? 0);

    function refuse(a: BudgetAccount): never {
      refusals.inc({ scope: a.scope, unit: a.unit });
      // The SDKs retry a 429 unless told not to: waiting does not refill a budget.
      throw new GatewayError(429, 'insufficient_quota', NOTHING_LEFT[a.scope], { type: 'insufficient_quota', headers: { 'x-should-retry': 'false' } });
    }

    function unavailable(err: unknown, ctx: RequestContext): void {
      ctx.log.warn({ err: { message: (err as Error).message } }, 'budget ledger unavailable');
      if (options.failure_mode === 'fail_closed') {
        throw new GatewayError(503, 'budget_unavailable', 'The gateway cannot check budgets right now. Please retry shortly.', { headers: { 'retry-after': '1' } });
      }
    }

    /** Lowers a buffered request's output limit to what its hold covers. */
    function bound(ctx: RequestContext, h: Hold, asked: number | undefined, ceiling: number): void {
      const body = ctx.request.body!;
      let allowed = ceiling;
      h.accounts.forEach((a, i) => {
        if (a.unit === 'tokens') allowed = Math.min(allowed, h.held[i] - h.prompt);
        else {
          const perToken = amount(a, h, 0, 1_000_000) / 1_000_000;
          if (perToken > 0) allowed = Math.min(allowed, (h.held[i] - amount(a, h, h.prompt, 0)) / perToken);
        }
      });
      allowed = Math.max(1, Math.floor(allowed));
      if (asked !== undefined && allowed >= asked) return;
      const provider = ctx.target ? host.providers.get(ctx.target.provider)?.type : undefined;
      const field = outputLimitField(body, ctx.request.endpoint, provider);
      if (!field) return;
      ctx.setRequestBody({ ...body, [field]: allowed });
      ctx.log.debug({ [field]: allowed }, 'output limit lowered to the budget left');
    }

    /** The stream's count passed its hold (`used`, per account): hold more, or end it. */
    async function holdMore(ctx: RequestContext, h: Hold, used: number[]): Promise<ShortCircuit | undefined> {
      const short = used.map((u, i) => u > h.held[i]);
      const step = ledger.settings.stepTokens;
      const asks: BudgetAsk[] = h.accounts.map((a, i) => ({
        account: a,
        want: short[i] ? Math.max(used[i] - h.held[i], amount(a, h, 0, step)) : 0,
        min: 0,
      }));
      try {
        const granted = await ledger.extend(ctx.id, asks);
        granted.forEach((g, i) => (h.held[i] += g));
        h.touched = Date.now();
      } catch (err) {
        ctx.log.warn({ err: { message: (err as Error).message } }, 'budget ledger unavailable while streaming');
        if (options.failure_mode === 'fail_open') return undefined;
      }
      const over = h.accounts.findIndex((_, i) => used[i] > h.held[i]);
      if (over < 0) return undefined;
      h.cut = true;
      const a = h.accounts[over];
      cuts.inc({ scope: a.scope, unit: a.unit });
      const body = new GatewayError(429, 'insufficient_quota', NOTHING_LEFT[a.scope], { type: 'insufficient_quota' }).toBody();
      return { ...respond(429, body as unknown as JsonValue), outcome: 'budget_exceeded' };
    }

    /** Holds the request's worst case; refuses it when a budget cannot cover a minimal request. */
    async function admit(ctx: RequestContext, p: Principal, accounts: BudgetAccount[]): Promise<void> {
      const body = ctx.request.body!;
      const endpoint = ctx.request.endpoint;
      const prompt = estimatePromptTokens(body, endpoint);
      const asked = requestedOutputTokens(body, endpoint);
      const ceiling = asked ?? ledger.settings.defaultMaxOutputTokens;
      const pricing = { model: ctx.target!.model, tier: p.tier };
      const asks: BudgetAsk[] = accounts.map((a) => ({
        account: a,
        want: amount(a, pricing, prompt, ceiling),
        // A minimal request: its prompt and one token of answer (at least a micro-dollar when priced at 0).
        min: a.unit === 'tokens' ? prompt + 1 : Math.max(amount(a, pricing, prompt, 1), 1e-6),
      }));
      let r;
      try {
        r = await ledger.reserve(ctx.id, asks);
      } catch (err) {
        return unavailable(err, ctx);
      }
      if (!r.ok) refuse(r.account);
      const h: Hold = { accounts, held: [...r.granted], prompt, out: 0, ...pricing, cut: false, touched: Date.now() };
      holds.set(ctx, h);
      if (ctx.request.stream) ctx.endableStream();
      else bound(ctx, h, asked, ceiling);
    }

    /**
     * Keeps a long stream's hold alive: one whose worst case was held whole never extends it, and
     * a hold expires budgets.hold_ttl_seconds after it was last touched. Past half that, a
     * zero-amount extend renews it, off the event's path (the ledger keeps the order of a
     * replica's calls, so it lands before the request's settle).
     */
    function renewIfOld(ctx: RequestContext, h: Hold): void {
      const now = Date.now();
      if (now - h.touched < ledger.settings.holdTtlMs / 2) return;
      h.touched = now;
      ledger.extend(ctx.id, h.accounts.map((account) => ({ account, want: 0, min: 0 }))).catch((err: unknown) => {
        ctx.log.warn({ err: { message: (err as Error).message } }, 'budget hold renewal failed');
      });
    }

    /** Replaces the request's hold with what it spent: the provider's usage, else this plugin's count; nothing without an answer. */
    async function settle(ctx: RequestContext, h: Hold): Promise<void> {
      const u = ctx.usage;
      const spent = h.accounts.map((a) => ({
        account: a,
        amount: !u ? 0 : a.unit === 'tokens' ? u.totalTokens : (ctx.costUsd ?? amount(a, h, u.promptTokens, u.completionTokens)),
      }));
      try {
        await ledger.settle(ctx.id, spent);
      } catch (err) {
        // The hold expires on its own (budgets.hold_ttl_seconds); the spend is in the usage record.
        ctx.log.warn({ err: { message: (err as Error).message } }, 'budget settle failed');
      }
    }

    // The hooks answer synchronously unless there is ledger work: a request without a budget
    // costs a lookup or two, and no promise (the host times every promise a hook returns).
    return {
      onRequest(ctx) {
        const p = ctx.principal;
        if (!p || !ctx.request.body || !ctx.target) return;
        const accounts = accountsOf(p);
        if (accounts.length === 0) return;
        return admit(ctx, p, accounts);
      },

      onResponseChunk(ctx, event) {
        const h = holds.get(ctx);
        if (!h || h.cut || event.data === '[DONE]') return;
        renewIfOld(ctx, h);
        const json = event.json;
        const tokens = textTokens(eventTextChars(json));
        // The provider's own count replaces the estimate (usually in the last event; some servers send it in every one).
        const reported = event.data.includes('"usage"') ? reportedUsage(json) : undefined;
        if (reported) {
          h.prompt = reported.prompt;
          h.out = reported.completion;
        } else if (tokens > 0) {
          h.out += tokens;
          // Recorded (and priced) if the provider never reports usage: a cut stream, a client gone.
          ctx.setUsage(usage(h.prompt, h.out));
        }
        // Only an event carrying generated text is held back and ends the stream: a usage report
        // alone comes after the answer, which the client then has whole.
        if (tokens === 0) return;
        const used = h.accounts.map((a) => amount(a, h, h.prompt, h.out));
        if (used.every((u, i) => u <= h.held[i])) return;
        return holdMore(ctx, h, used);
      },

      onComplete(ctx) {
        const h = holds.get(ctx);
        if (!h) return;
        holds.delete(ctx);
        return settle(ctx, h);
      },
    };
  },
});

/** The token counts a provider's usage object carries (chat and completions chunks, Responses events). */
function reportedUsage(json: JsonValue | undefined): { prompt: number; completion: number } | undefined {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const response = json.response && typeof json.response === 'object' && !Array.isArray(json.response) ? json.response : undefined;
  const u = json.usage ?? response?.usage;
  if (!u || typeof u !== 'object' || Array.isArray(u)) return undefined;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  const completion = u.completion_tokens ?? u.output_tokens;
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  return { prompt: Math.max(0, prompt), completion: Math.max(0, completion) };
}
