/**
 * The ledger's storage: per account (a key's or a team's budget in one unit) what is spent and
 * what requests hold, in whole units (tokens, or micro-dollars). Each operation runs atomically
 * over all of a request's accounts: in Redis as one Lua script, in memory synchronously.
 *
 * An account's spent amount starts from a seed, the store's total of the usage records for it:
 * when an account is not known yet, an operation answers `seed` with the accounts to seed, and
 * the caller repeats it with their totals (set only if still unknown, so replicas that race set it
 * once). From then on the ledger is authoritative: settled spend is added to it at once, and the
 * limit comes with every call, so a changed budget applies to the next request.
 */

export interface LedgerEntry {
  /** The account's ledger key (`key:<id>:tokens`, `team:<name>:usd`). */
  readonly account: string;
  readonly limit: number;
  /** reserve / extend: how much to hold; settle: what was spent. */
  readonly amount: number;
  /** reserve: refused when less than this is left. */
  readonly min: number;
  /** The store's total for the account, when the caller was asked to seed it. */
  readonly seed?: number;
}

export type LedgerOp = 'reserve' | 'extend' | 'settle';

export type LedgerResult =
  | { readonly kind: 'ok'; /** reserve / extend: what each entry got. */ readonly granted: number[] }
  | { readonly kind: 'refused'; readonly index: number; readonly remaining: number }
  | { readonly kind: 'seed'; /** Indexes of entries whose account is not known yet. */ readonly indexes: number[] };

export interface LedgerBackend {
  readonly name: 'memory' | 'redis';
  apply(op: LedgerOp, holdId: string, entries: readonly LedgerEntry[], holdTtlMs: number): Promise<LedgerResult>;
  close(): Promise<void>;
}

/** What an account has left once its live holds are counted (never below 0). */
export function remaining(limit: number, spent: number, held: number): number {
  return Math.max(0, limit - spent - held);
}
