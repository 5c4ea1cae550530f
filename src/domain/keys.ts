/** A virtual key as plugins see it: settings only, never the secret or its digest. */
export interface KeyInfo {
  id: string;
  name: string | null;
  user: string | null;
  team: string | null;
  tier: 'standard' | 'langchain';
  roles: string[];
  /** Provider the key's own credential belongs to, if it carries one. */
  provider: string | null;
  allowedModels: string[] | null;
  allowedProviders: string[] | null;
  quotaLimit: number | null;
  tokenBudget: number | null;
  budgetUsd: number | null;
  metadata: Record<string, unknown>;
}

export type KeyCheck =
  | { ok: true; key: KeyInfo; /** The provider credential this key maps to, if any. */ credential: string | undefined }
  | { ok: false; reason: 'invalid' | 'revoked' | 'expired' };
