import { Counter, Histogram, type Registry } from 'prom-client';
import type { RateLimitKind, RateLimitPublication } from '../domain';
import type { Logger } from '../observability/logger';
import type { CompiledLimit } from './config';
import { refuses, type ApplyResult, type CounterBackend, type CounterOp } from './counters';
import { applicableKinds, INTERNAL_HEADER_PREFIX, matchLimits, parseDescriptor, type DescriptorEntry } from './descriptors';

/** envoy.service.ratelimit.v3.RateLimitRequest as proto-loader decodes it. */
export interface RateLimitRequest {
  domain?: string;
  descriptors?: { entries?: DescriptorEntry[]; hits_addend?: { value?: string | number } | null }[];
  hits_addend?: number;
}

type Code = 'OK' | 'OVER_LIMIT';
type Unit = 'UNKNOWN' | 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY';

export interface DescriptorStatus {
  code: Code;
  current_limit?: { name: string; requests_per_unit: number; unit: Unit };
  limit_remaining?: number;
  duration_until_reset?: { seconds: number; nanos: number };
}

export interface RateLimitResponse {
  overall_code: Code;
  statuses: DescriptorStatus[];
  response_headers_to_add: { key: string; value: string }[];
  raw_body?: Buffer;
}

export interface RateLimiterOptions {
  limits: CompiledLimit[];
  backend: CounterBackend;
  failureMode: 'fail_open' | 'fail_closed';
  log: Logger;
  /** Registry of the processor's /metrics. */
  registry?: Registry;
}

/** The backend failed and failure_mode is fail_closed: Envoy denies (failure_mode_deny). */
export class RateLimitUnavailable extends Error {}

const UNITS: Record<number, Unit> = { 1000: 'SECOND', 60_000: 'MINUTE', 3_600_000: 'HOUR', 86_400_000: 'DAY' };
const UNIT_WORDS: Record<Unit, string> = { UNKNOWN: '', SECOND: 'second', MINUTE: 'minute', HOUR: 'hour', DAY: 'day' };

/** One counter of a call, with where it came from. */
interface Planned {
  op: CounterOp;
  limit: CompiledLimit;
  descriptors: number[];
}

/**
 * The decisions of envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit: match each
 * descriptor to the configured limits, update the counters in one atomic step, and answer with
 * per-descriptor statuses and OpenAI's x-ratelimit-* headers (and, over the limit, an OpenAI
 * error body and retry-after).
 */
export class RateLimiter {
  readonly decisions: Counter<'rule' | 'decision'>;
  readonly backendErrors: Counter<'backend'>;
  readonly duration: Histogram<'result'>;
  private lastErrorLog = 0;
  private warnedNoDimensions = false;

  constructor(private readonly opts: RateLimiterOptions) {
    const registers = opts.registry ? [opts.registry] : [];
    this.decisions = new Counter({
      name: 'gateway_ratelimit_decisions_total',
      help: 'Rate limit checks by rule and decision (ok, over_limit; charged for token usage added after a response)',
      labelNames: ['rule', 'decision'] as const,
      registers,
    });
    this.backendErrors = new Counter({
      name: 'gateway_ratelimit_backend_errors_total',
      help: 'Rate limit calls answered without the counters (Redis unreachable or failing), by backend',
      labelNames: ['backend'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'gateway_ratelimit_duration_seconds',
      help: 'Time to answer one ShouldRateLimit call, by result (ok, over_limit, error)',
      labelNames: ['result'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5],
      registers,
    });
  }

  get backend(): CounterBackend {
    return this.opts.backend;
  }

  /** Which kinds of limit can apply to a request that published this (none: Envoy skips the call). */
  applicableKinds(published: RateLimitPublication): RateLimitKind[] {
    if (!this.warnedNoDimensions && this.opts.limits.length > 0 && Object.keys(published.dimensions).length === 0) {
      // Rules match on what plugins publish (the rate-limit-descriptors plugin, or one of yours).
      this.warnedNoDimensions = true;
      this.opts.log.warn(
        { rules: [...new Set(this.opts.limits.map((l) => l.rule))] },
        'rate_limits.rules are configured but a request published no key, user, team, identity or model: is the rate-limit-descriptors plugin (or one of your own calling ctx.rateLimits.setDimension) loaded?',
      );
    }
    return applicableKinds(this.opts.limits, published);
  }

  async shouldRateLimit(req: RateLimitRequest): Promise<RateLimitResponse> {
    const started = performance.now();
    const descriptors = req.descriptors ?? [];
    const planned = this.plan(req);
    const ok: RateLimitResponse = { overall_code: 'OK', statuses: descriptors.map(() => ({ code: 'OK' })), response_headers_to_add: [] };
    if (planned.length === 0) return ok;

    let result: ApplyResult;
    try {
      result = await this.opts.backend.apply(planned.map((p) => p.op));
    } catch (err) {
      this.backendErrors.inc({ backend: this.opts.backend.name });
      this.duration.observe({ result: 'error' }, (performance.now() - started) / 1000);
      const now = Date.now();
      if (now - this.lastErrorLog > 10_000) {
        this.lastErrorLog = now;
        this.opts.log.warn({ err: { message: (err as Error).message }, backend: this.opts.backend.name, failure_mode: this.opts.failureMode }, 'rate limit counters unavailable');
      }
      if (this.opts.failureMode === 'fail_closed') throw new RateLimitUnavailable((err as Error).message);
      return ok;
    }
    const response = this.respond(descriptors.length, planned, result);
    this.duration.observe({ result: response.overall_code === 'OK' ? 'ok' : 'over_limit' }, (performance.now() - started) / 1000);
    return response;
  }

  /** The counters a call touches, one op per distinct counter. */
  private plan(req: RateLimitRequest): Planned[] {
    const byKey = new Map<string, Planned>();
    (req.descriptors ?? []).forEach((desc, i) => {
      const d = parseDescriptor(desc.entries ?? []);
      const explicit = desc.hits_addend ? Number(desc.hits_addend.value ?? 0) : undefined;
      for (const m of matchLimits(this.opts.limits, d)) {
        let op: CounterOp;
        // Tool calls (src/mcp) are counted as requests are: one per call.
        if (m.limit.kind === 'requests' || m.limit.kind === 'tool_calls') {
          // The request-level hits_addend is 0 (meaning 1) unless Envoy was told otherwise.
          op = { key: m.counter, hits: explicit ?? (req.hits_addend || 1), limit: m.limit.limit, windowMs: m.limit.windowMs, mode: 'limit' };
        } else {
          // Token descriptors carry their own hits: 0 before the request (a check), the real usage after it.
          const hits = explicit ?? 0;
          op = { key: m.counter, hits, limit: m.limit.limit, windowMs: m.limit.windowMs, mode: hits > 0 ? 'charge' : 'check' };
        }
        const seen = byKey.get(m.counter);
        if (seen) seen.descriptors.push(i);
        else byKey.set(m.counter, { op, limit: m.limit, descriptors: [i] });
      }
    });
    return [...byKey.values()];
  }

  private respond(count: number, planned: Planned[], result: ApplyResult): RateLimitResponse {
    const states = planned.map((p, i) => {
      const c = result.counters[i];
      const refused = result.over && refuses(p.op, c.count);
      // The count is the sliding estimate, rounded up: remaining one-unit requests pass now.
      const remaining = Math.max(0, p.op.limit - c.count);
      this.decisions.inc({ rule: p.limit.rule, decision: p.op.mode === 'charge' ? 'charged' : refused ? 'over_limit' : 'ok' });
      return { ...p, count: c.count, resetMs: Math.max(0, c.resetMs), refused, remaining };
    });

    const statuses: DescriptorStatus[] = [];
    for (let i = 0; i < count; i++) {
      const mine = states.filter((s) => s.descriptors.includes(i));
      if (mine.length === 0) {
        statuses.push({ code: 'OK' });
        continue;
      }
      // The tightest limit of this descriptor: refused first, then the least remaining.
      const s = mine.reduce((a, b) => (Number(b.refused) - Number(a.refused) || a.remaining - b.remaining) > 0 ? b : a);
      statuses.push({
        code: s.refused ? 'OVER_LIMIT' : 'OK',
        current_limit: { name: s.limit.rule, requests_per_unit: s.op.limit, unit: UNITS[s.op.windowMs] ?? 'UNKNOWN' },
        limit_remaining: s.remaining,
        duration_until_reset: duration(s.resetMs),
      });
    }

    // OpenAI's headers: the tightest request limit and the tightest token limit.
    const headers: { key: string; value: string }[] = [];
    for (const kind of ['requests', 'tokens'] as const) {
      const of = states.filter((s) => s.limit.kind === kind);
      if (of.length === 0) continue;
      const t = of.reduce((a, b) => (b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a));
      // Refusals are Envoy's own replies: OpenAI's names. Allowed requests get the provider's
      // response, which may carry its own x-ratelimit-*: internal names, renamed by the plugins.
      const prefix = result.over ? 'x-ratelimit-' : INTERNAL_HEADER_PREFIX;
      headers.push(
        { key: `${prefix}limit-${kind}`, value: String(t.op.limit) },
        { key: `${prefix}remaining-${kind}`, value: String(t.remaining) },
        { key: `${prefix}reset-${kind}`, value: goDuration(t.resetMs) },
      );
    }
    if (!result.over) return { overall_code: 'OK', statuses, response_headers_to_add: headers };

    // A refused counter's resetMs is the wait until enough of its sliding window has slid out
    // for this request (counters.ts, resetMs): the longest of them is when the request passes.
    const refused = states.filter((s) => s.refused);
    const waitMs = Math.max(...refused.map((s) => s.resetMs));
    const first = refused[0];
    const per = UNIT_WORDS[UNITS[first.op.windowMs] ?? 'UNKNOWN'] || `${Math.round(first.op.windowMs / 1000)} s`;
    const what = first.limit.kind === 'tokens' ? 'tokens' : first.limit.kind === 'tool_calls' ? 'tool calls' : 'requests';
    const retry = Math.max(1, Math.ceil(waitMs / 1000));
    const body = {
      error: {
        message: `Rate limit reached for ${what} (${first.limit.rule}: limit ${first.op.limit} ${what} per ${per}, used ${first.count}). Please try again in ${goDuration(waitMs)}.`,
        type: 'rate_limit_error',
        param: null,
        code: 'rate_limit_exceeded',
      },
    };
    headers.push({ key: 'retry-after', value: String(retry) }, { key: 'retry-after-ms', value: String(Math.max(1, Math.ceil(waitMs))) }, { key: 'content-type', value: 'application/json' });
    return { overall_code: 'OVER_LIMIT', statuses, response_headers_to_add: headers, raw_body: Buffer.from(JSON.stringify(body)) };
  }

  close(): Promise<void> {
    return this.opts.backend.close();
  }
}

function duration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** A duration the way OpenAI writes x-ratelimit-reset-* (Go's format): `250ms`, `1.5s`, `6m0s`, `1h0m0s`. */
export function goDuration(ms: number): string {
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}
