import type { Session } from './api';

export interface PageProps {
  session: Session;
}

export interface UsageRow {
  group: string | null;
  requests: number;
  errors?: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  group_by: string | null;
  data: UsageRow[];
  scope: string;
  /** With `limit`: more groups follow; the next page's `offset`. */
  has_more?: boolean;
  next_offset?: number | null;
}

export interface VirtualKey {
  id: string;
  prefix: string;
  name: string | null;
  user: string | null;
  team: string | null;
  roles: string[];
  status: 'active' | 'revoked' | 'expired';
  quota_limit: number | null;
  token_budget: number | null;
  budget_usd: number | null;
  allowed_models: string[] | null;
  source: string;
  created_at: string;
}

export interface Page<T> {
  data: T[];
  has_more?: boolean;
  last_id?: string | null;
  next_cursor?: string | null;
}
