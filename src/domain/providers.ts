/** Where a request goes: a configured provider and the model id that provider expects. */
export interface ProviderTarget {
  provider: string;
  type: string;
  model: string;
}

/** A configured provider, without its credential. */
export interface ProviderInfo {
  readonly name: string;
  readonly type: string;
  readonly models: readonly string[];
  readonly available: boolean;
}

export interface ModelEntry {
  id: string;
  provider: string;
  displayName?: string;
  contextWindow?: number;
}
