import type { LedgerBackend, LedgerEntry, LedgerOp, LedgerResult } from './ledger';
import { remaining } from './ledger';

interface Account {
  spent: number;
  /** hold id → amount held and when it expires (epoch ms). */
  holds: Map<string, { amount: number; expires: number }>;
}

/** The ledger in this process: for one replica (no Redis configured). Same rules as redis.ts. */
export class MemoryLedger implements LedgerBackend {
  readonly name = 'memory' as const;
  private readonly accounts = new Map<string, Account>();

  constructor(private readonly now: () => number = Date.now) {}

  async apply(op: LedgerOp, holdId: string, entries: readonly LedgerEntry[], holdTtlMs: number): Promise<LedgerResult> {
    const missing: number[] = [];
    entries.forEach((e, i) => {
      if (this.accounts.has(e.account)) return;
      if (e.seed === undefined) missing.push(i);
      else this.accounts.set(e.account, { spent: e.seed, holds: new Map() });
    });
    if (missing.length) return { kind: 'seed', indexes: missing };

    const now = this.now();
    const accounts = entries.map((e) => this.accounts.get(e.account)!);
    if (op === 'settle') {
      entries.forEach((e, i) => {
        accounts[i].spent += Math.max(0, e.amount);
        accounts[i].holds.delete(holdId);
      });
      return { kind: 'ok', granted: [] };
    }
    const left = accounts.map((a, i) => remaining(entries[i].limit, a.spent, liveHeld(a, now)));
    if (op === 'reserve') {
      const short = entries.findIndex((e, i) => left[i] < e.min);
      if (short >= 0) return { kind: 'refused', index: short, remaining: left[short] };
    }
    const granted = entries.map((e, i) => Math.max(0, Math.min(e.amount, left[i])));
    accounts.forEach((a, i) => {
      const before = op === 'extend' ? (a.holds.get(holdId)?.amount ?? 0) : 0;
      a.holds.set(holdId, { amount: before + granted[i], expires: now + holdTtlMs });
    });
    return { kind: 'ok', granted };
  }

  async close(): Promise<void> {}
}

/** The holds still live; expired ones (a request whose settle never came) are dropped. */
function liveHeld(a: Account, now: number): number {
  let sum = 0;
  for (const [id, h] of a.holds) {
    if (h.expires <= now) a.holds.delete(id);
    else sum += h.amount;
  }
  return sum;
}
