import type { ProviderTarget } from '../domain';
import type { ProviderRuntime, ProviderTranslator, TranslationInput } from '../providers/types';
import type { ExchangeContext } from './context';
import type { SurfaceRequest } from './surface-attempt';

/** Where a request may go: its primary target first, then its fallbacks, and the cluster Envoy routes it to. */
export interface RoutePlan {
  cluster: string;
  targets: ProviderTarget[];
}

/** The upstream attempt in progress (or last made) for a request. */
export interface AttemptState {
  number: number;
  target: ProviderTarget;
  provider: ProviderRuntime;
  translator: ProviderTranslator;
  /** What the answer is read against: the OpenAI view's input, for a native attempt too. */
  input: TranslationInput;
  /** The provider got the client's own API (src/surfaces): its answer goes back unchanged. */
  native?: boolean;
}

export interface PendingRequest {
  ctx: ExchangeContext;
  plan: RoutePlan;
  attempts: number;
  /** Targets already tried, so a second attempt on a provider takes its next fallback model. */
  tried: ProviderTarget[];
  current?: AttemptState;
  /** Headers the previous attempt set: a retry starts from them, so they must be cleared. */
  headersSet?: string[];
  /** Set for a request that came through a client surface: each attempt decides native or translated. */
  surface?: SurfaceRequest;
}

/**
 * Requests between routing and completion, by the gateway's exchange id. Envoy calls the processor twice per
 * request: the downstream ext_proc (auth, plugins, routing, response) and, once per attempt,
 * the upstream ext_proc of the chosen provider cluster (translation and credential for that
 * provider). This map is how the second finds what the first decided.
 */
export class InFlight {
  private readonly pending = new Map<string, PendingRequest>();

  register(id: string, p: PendingRequest): void {
    this.pending.set(id, p);
  }

  get(id: string): PendingRequest | undefined {
    return this.pending.get(id);
  }

  delete(id: string): void {
    this.pending.delete(id);
  }

  get size(): number {
    return this.pending.size;
  }
}

/** The plan's next untried target served by `provider` (a retry on the same provider reuses its last). */
export function nextTargetFor(p: PendingRequest, provider: string): ProviderTarget | undefined {
  const candidates = p.plan.targets.filter((t) => t.provider === provider);
  return candidates.find((t) => !p.tried.includes(t)) ?? candidates[candidates.length - 1];
}
