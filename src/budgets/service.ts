import type { UsageTotals } from '../domain';
import type { Logger } from '../observability/logger';
import { ownValue } from '../domain/own';
import type { BudgetAccount, BudgetAsk, BudgetLedger, BudgetReservation } from '../plugins/api';
import type { BudgetsConfig } from './config';
import type { LedgerBackend, LedgerEntry, LedgerOp } from './ledger';
import { MemoryLedger } from './memory';

/** Dollars are kept as whole micro-dollars: sums stay exact, and Redis adds integers. */
const MICROS = 1_000_000;

/** Where a replica finds what an account had spent before the ledger knew it: the usage records. */
export interface SpendSource {
  forKey(keyId: string): Promise<UsageTotals>;
  forTeam(team: string): Promise<UsageTotals>;
}

/** The core's budget ledger, offered to plugins as `host.budgets` (docs/budgets.md). */
export class BudgetService implements BudgetLedger {
  readonly settings: BudgetLedger['settings'];
  private readonly holdTtlMs: number;

  constructor(
    private readonly config: BudgetsConfig,
    private readonly backend: LedgerBackend,
    private readonly spend: SpendSource,
  ) {
    this.holdTtlMs = config.hold_ttl_seconds * 1000;
    this.settings = { defaultMaxOutputTokens: config.default_max_output_tokens, stepTokens: config.step_tokens, holdTtlMs: this.holdTtlMs };
  }

  get backendName(): LedgerBackend['name'] {
    return this.backend.name;
  }

  teamBudget(team: string): { tokens: number | null; usd: number | null } | undefined {
    // Team names come from key records and configuration; own properties only (`__proto__` is a name too).
    const t = ownValue(this.config.teams, team);
    if (!t) return undefined;
    return { tokens: t.tokens ?? null, usd: t.usd ?? null };
  }

  async reserve(holdId: string, asks: readonly BudgetAsk[]): Promise<BudgetReservation> {
    const entries = asks.map((a) => entry(a.account, a.want, a.min));
    const r = await this.apply('reserve', holdId, entries);
    if (r.kind === 'refused') {
      const account = asks[r.index].account;
      return { ok: false, account, remaining: fromUnits(account, r.remaining) };
    }
    return { ok: true, granted: r.granted.map((g, i) => fromUnits(asks[i].account, g)) };
  }

  async extend(holdId: string, asks: readonly BudgetAsk[]): Promise<number[]> {
    const r = await this.apply('extend', holdId, asks.map((a) => entry(a.account, a.want, 0)));
    return r.kind === 'ok' ? r.granted.map((g, i) => fromUnits(asks[i].account, g)) : asks.map(() => 0);
  }

  async settle(holdId: string, spent: readonly { account: BudgetAccount; amount: number }[]): Promise<void> {
    await this.apply('settle', holdId, spent.map((s) => entry(s.account, s.amount, 0)));
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  /** Runs an operation, seeding (once per account) from the usage records when asked to. */
  private async apply(op: LedgerOp, holdId: string, entries: LedgerEntry[]) {
    let r = await this.backend.apply(op, holdId, entries, this.holdTtlMs);
    if (r.kind !== 'seed') return r;
    const seeded = [...entries];
    await Promise.all(r.indexes.map(async (i) => (seeded[i] = { ...entries[i], seed: await this.spentBefore(entries[i]) })));
    r = await this.backend.apply(op, holdId, seeded, this.holdTtlMs);
    if (r.kind === 'seed') throw new Error('budget ledger: seeding failed');
    return r;
  }

  private async spentBefore(e: LedgerEntry): Promise<number> {
    const [scope, rest] = splitAccount(e.account);
    const totals = scope === 'key' ? await this.spend.forKey(rest.id) : await this.spend.forTeam(rest.id);
    return rest.unit === 'tokens' ? totals.totalTokens : Math.round(totals.costUsd * MICROS);
  }
}

/** `key:tokens:<id>`: the id last, so any character in it is harmless. */
function accountKey(a: BudgetAccount): string {
  return `${a.scope}:${a.unit}:${a.id}`;
}

function splitAccount(key: string): [string, { unit: string; id: string }] {
  const first = key.indexOf(':');
  const second = key.indexOf(':', first + 1);
  return [key.slice(0, first), { unit: key.slice(first + 1, second), id: key.slice(second + 1) }];
}

function toUnits(a: BudgetAccount, amount: number): number {
  return a.unit === 'usd' ? Math.ceil(amount * MICROS - 1e-6) : Math.ceil(amount);
}

function fromUnits(a: BudgetAccount, units: number): number {
  return a.unit === 'usd' ? units / MICROS : units;
}

function entry(a: BudgetAccount, amount: number, min: number): LedgerEntry {
  return { account: accountKey(a), limit: a.unit === 'usd' ? Math.floor(a.limit * MICROS) : a.limit, amount: toUnits(a, Math.max(0, amount)), min: toUnits(a, Math.max(0, min)) };
}

/** ioredis is loaded only when Redis is configured, as for the rate limit counters (about 13 MiB of RSS). */
function redisLedger(): typeof import('./redis').RedisLedger {
  return (require('./redis') as typeof import('./redis')).RedisLedger;
}

/** The ledger for this configuration: Redis when a URL is configured, else this process. */
export function createBudgetService(
  config: BudgetsConfig,
  spend: SpendSource,
  opts: { log?: Logger; redisUrl?: string },
): BudgetService {
  const url = config.redis_url || opts.redisUrl;
  const backend = url
    ? new (redisLedger())({ url, prefix: config.redis_prefix, commandTimeoutMs: config.timeout_ms, log: opts.log })
    : new MemoryLedger();
  opts.log?.info({ backend: backend.name }, 'budget ledger');
  return new BudgetService(config, backend, spend);
}
