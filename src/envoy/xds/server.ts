import { createHash, randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { DuplexCall } from '../grpc/server';
import { serviceDefinition } from '../extproc/protos';
import type { Logger } from '../../observability/logger';
import { lookupType, toAny, type AnyMessage } from './encode';

export const ADS_PROTO = 'envoy/service/discovery/v3/ads.proto';
export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

/** google.rpc.Status as Envoy sends it in a NACK. */
interface RpcStatus {
  code?: number;
  message?: string;
}
interface XdsNode {
  id?: string;
  cluster?: string;
}

/** As decoded by proto-loader (keepCase, defaults: false: absent fields are undefined). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: XdsNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RpcStatus;
}
export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
  control_plane?: { identifier: string };
}
export interface DeltaDiscoveryRequest {
  node?: XdsNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RpcStatus;
}
export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: { name: string; version: string; resource: AnyMessage }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane?: { identifier: string };
}

interface Resource {
  name: string;
  any: AnyMessage;
  /** Resource version for delta xDS: a digest of the encoded message. */
  hash: string;
}

interface Snapshot {
  seq: number;
  version: string;
  resources: Map<string, Resource>;
  /** Stable serialisation of the JSON input: an unchanged set keeps its version. */
  key: string;
}

interface Sent {
  seq: number;
  /** Delta only: resource → the version the client had before this response (undefined: none). */
  changes?: Map<string, string | undefined>;
}

/** One type's state on one stream. */
interface Subscription {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  lastNonce?: string;
  sent: Map<string, Sent>;
  /** Highest snapshot sequence this stream has ACKed (-1: none yet). */
  ackedSeq: number;
  /** Snapshot sequence → Envoy's error message. */
  nacked: Map<number, string>;
  /** Delta only: resource → version the client holds, as far as this server knows. */
  known: Map<string, string>;
}

type AnyCall = DuplexCall<DiscoveryRequest, DiscoveryResponse> | DuplexCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

interface Stream {
  id: number;
  kind: 'sotw' | 'delta';
  node: string;
  peer: string;
  subs: Map<string, Subscription>;
  closed: boolean;
  call: AnyCall;
}

interface Waiter {
  typeUrl: string;
  seq: number;
  done(ok: boolean): void;
}

export interface XdsStatus {
  versions: Record<string, string>;
  streams: { id: number; kind: 'sotw' | 'delta'; node: string; peer: string; types: Record<string, { acked?: string; nacked?: { version: string; error: string } }> }[];
}

/** How many sent responses per stream and type are remembered for matching ACKs. */
const SENT_HISTORY = 16;
const CONTROL_PLANE = { identifier: 'llm-gateway' };

/** JSON with object keys sorted: equal configurations serialise equally. */
function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

const isWildcard = (names: string[]) => names.length === 0 || names.includes('*');

/**
 * An xDS management server for Envoy: the Aggregated Discovery Service, state-of-the-world and
 * delta, serving the resource sets given to it (clusters via `setClusters`). Every change is
 * pushed at once to each connected Envoy subscribed to that type; ACKs and NACKs are tracked
 * per stream so callers can wait until Envoy has taken a version.
 */
export class XdsServer {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly streams = new Set<Stream>();
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private streamSeq = 0;
  private nonceSeq = 0;
  private readonly noncePrefix = randomBytes(4).toString('hex');
  private closed = false;

  constructor(private readonly log: Logger) {
    this.snapshots.set(CLUSTER_TYPE_URL, { seq: 0, version: '0', resources: new Map(), key: stableStringify([]) });
    // Load the Envoy API protos now (~0.2 s) rather than in the first setClusters.
    lookupType(CLUSTER_TYPE_URL.slice(CLUSTER_TYPE_URL.lastIndexOf('/') + 1));
  }

  service(): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
    const definition = serviceDefinition(ADS_PROTO, ADS_SERVICE);
    return {
      definition,
      implementation: {
        StreamAggregatedResources: (call: DuplexCall<DiscoveryRequest, DiscoveryResponse>) => this.attach(call, 'sotw'),
        DeltaAggregatedResources: (call: DuplexCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.attach(call, 'delta'),
      },
    };
  }

  /** The current CDS version. */
  get version(): string {
    return this.snapshot(CLUSTER_TYPE_URL).version;
  }

  /**
   * Replaces the whole cluster set (Envoy JSON, each with a unique `name`) and pushes it to
   * every connected Envoy; returns the version, unchanged when the set is. Throws (and changes
   * nothing) when a cluster cannot be encoded.
   */
  setClusters(clusters: Record<string, unknown>[]): string {
    return this.setResources(CLUSTER_TYPE_URL, clusters);
  }

  /** Replaces the resource set of any xDS type (each resource with a unique `name`). */
  setResources(typeUrl: string, resources: Record<string, unknown>[]): string {
    if (this.closed) throw new Error('xDS server is closed');
    const names = new Set<string>();
    for (const r of resources) {
      const name = r?.name;
      if (typeof name !== 'string' || !name) throw new Error('every xDS resource needs a non-empty "name"');
      if (names.has(name)) throw new Error(`duplicate xDS resource name "${name}"`);
      names.add(name);
    }
    const sorted = [...resources].sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : 1));
    const key = stableStringify(sorted);
    const current = this.snapshots.get(typeUrl);
    if (current && current.key === key) return current.version;
    const encoded = new Map<string, Resource>();
    for (const r of sorted) {
      const any = toAny(typeUrl, r);
      encoded.set(r.name as string, { name: r.name as string, any, hash: createHash('sha256').update(any.value).digest('hex').slice(0, 16) });
    }
    const seq = ++this.seq;
    const snap: Snapshot = { seq, version: String(seq), resources: encoded, key };
    this.snapshots.set(typeUrl, snap);
    let pushed = 0;
    for (const stream of this.streams) {
      const sub = stream.subs.get(typeUrl);
      if (!sub || stream.closed) continue;
      if (stream.kind === 'sotw') this.sendSotw(stream, sub);
      else this.sendDelta(stream, sub, false);
      pushed++;
    }
    this.log.info({ type_url: typeUrl, version: snap.version, resources: [...names], streams: pushed }, 'xDS resources updated');
    this.checkWaiters();
    return snap.version;
  }

  /**
   * Resolves true once every connected Envoy subscribed to the type has ACKed `version` (or a
   * later one), false as soon as one NACKs it or when `timeoutMs` passes. With no Envoy
   * connected it waits for one to connect and ACK.
   */
  waitForAck(version: string, timeoutMs: number, typeUrl = CLUSTER_TYPE_URL): Promise<boolean> {
    const seq = /^\d+$/.test(version) ? Number(version) : NaN;
    if (!Number.isSafeInteger(seq) || seq > this.seq) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        typeUrl,
        seq,
        done: (ok) => {
          if (timer) clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(ok);
        },
      };
      const now = this.evaluate(waiter);
      if (now !== undefined) return resolve(now);
      this.waiters.add(waiter);
      timer = setTimeout(() => waiter.done(false), timeoutMs);
      timer.unref?.();
    });
  }

  /** Connected streams and what each has ACKed or NACKed; for health and admin endpoints. */
  status(): XdsStatus {
    return {
      versions: Object.fromEntries([...this.snapshots].map(([t, s]) => [t, s.version])),
      streams: [...this.streams].map((s) => ({
        id: s.id,
        kind: s.kind,
        node: s.node,
        peer: s.peer,
        types: Object.fromEntries(
          [...s.subs.values()].map((sub) => {
            const lastNack = [...sub.nacked].pop();
            return [
              sub.typeUrl,
              {
                ...(sub.ackedSeq >= 0 ? { acked: String(sub.ackedSeq) } : {}),
                ...(lastNack && lastNack[0] > sub.ackedSeq ? { nacked: { version: String(lastNack[0]), error: lastNack[1] } } : {}),
              },
            ];
          }),
        ),
      })),
    };
  }

  /** Ends every stream (Envoy reconnects to whoever serves next) and fails pending waits. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) {
      this.detach(stream, 'server closing');
      try {
        stream.call.end();
      } catch {
        // already gone
      }
    }
    for (const w of [...this.waiters]) w.done(false);
  }

  // --- streams ---------------------------------------------------------------------------

  private attach(call: AnyCall, kind: 'sotw' | 'delta'): void {
    const stream: Stream = { id: ++this.streamSeq, kind, node: '', peer: call.getPeer(), subs: new Map(), closed: false, call };
    if (this.closed) {
      call.end();
      return;
    }
    this.streams.add(stream);
    this.log.debug({ stream: stream.id, kind, peer: stream.peer }, 'xDS stream opened');
    call.on('data', (req: DiscoveryRequest | DeltaDiscoveryRequest) => {
      if (stream.closed) return;
      try {
        if (req.node?.id && !stream.node) {
          stream.node = req.node.id;
          this.log.info({ stream: stream.id, kind, node: stream.node, peer: stream.peer }, 'Envoy connected to ADS');
        }
        if (kind === 'sotw') this.onSotwRequest(stream, req as DiscoveryRequest);
        else this.onDeltaRequest(stream, req as DeltaDiscoveryRequest);
      } catch (err) {
        this.log.error({ err, stream: stream.id }, 'xDS request handling failed');
      }
    });
    // Envoy resets the stream when it reconnects or shuts down: a normal goodbye.
    call.on('cancelled', () => this.detach(stream, 'cancelled'));
    call.on('error', (err: Error) => this.detach(stream, err.message));
    call.on('close', () => this.detach(stream, 'closed'));
    call.on('end', () => {
      this.detach(stream, 'ended');
      try {
        call.end();
      } catch {
        // already closed
      }
    });
  }

  private detach(stream: Stream, reason: string): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream);
    // Envoy resets its stream on reconnect and shutdown: worth a line, not a warning.
    if (stream.node) this.log.info({ stream: stream.id, node: stream.node, reason }, 'Envoy disconnected from ADS');
    else this.log.debug({ stream: stream.id, reason }, 'xDS stream closed');
    this.checkWaiters();
  }

  private write(stream: Stream, msg: DiscoveryResponse | DeltaDiscoveryResponse): void {
    if (stream.closed || stream.call.cancelled) return;
    try {
      (stream.call as DuplexCall<unknown, unknown>).write(msg);
    } catch (err) {
      this.log.debug({ err, stream: stream.id }, 'xDS write failed');
    }
  }

  private subscription(stream: Stream, typeUrl: string): { sub: Subscription; isNew: boolean } {
    let sub = stream.subs.get(typeUrl);
    if (sub) return { sub, isNew: false };
    sub = { typeUrl, wildcard: true, names: new Set(), sent: new Map(), ackedSeq: -1, nacked: new Map(), known: new Map() };
    stream.subs.set(typeUrl, sub);
    return { sub, isNew: true };
  }

  /** Types nobody configured get an empty set at version 0, so Envoy never waits on them. */
  private snapshot(typeUrl: string): Snapshot {
    return this.snapshots.get(typeUrl) ?? { seq: 0, version: '0', resources: new Map(), key: '' };
  }

  private nextNonce(): string {
    return `${this.noncePrefix}-${++this.nonceSeq}`;
  }

  private remember(sub: Subscription, nonce: string, sent: Sent): void {
    sub.sent.set(nonce, sent);
    sub.lastNonce = nonce;
    while (sub.sent.size > SENT_HISTORY) sub.sent.delete(sub.sent.keys().next().value as string);
  }

  /** ACK or NACK of a response we sent; returns the response, if it is one we remember. */
  private settle(stream: Stream, sub: Subscription, nonce: string, error: RpcStatus | undefined, sotwVersion?: string): Sent | undefined {
    const sent = sub.sent.get(nonce);
    if (!sent) return undefined;
    const version = String(sent.seq);
    if (error) {
      if (!sub.nacked.has(sent.seq)) {
        sub.nacked.set(sent.seq, error.message ?? '');
        while (sub.nacked.size > SENT_HISTORY) sub.nacked.delete(sub.nacked.keys().next().value as number);
        // Envoy keeps the previous version of anything it rejected; nothing is resent until the set changes.
        this.log.warn({ stream: stream.id, node: stream.node, type_url: sub.typeUrl, version, error: error.message, code: error.code }, 'Envoy rejected xDS update (NACK)');
      }
    } else if (sotwVersion === undefined || sotwVersion === version) {
      if (sent.seq > sub.ackedSeq) sub.ackedSeq = sent.seq;
      this.log.debug({ stream: stream.id, node: stream.node, type_url: sub.typeUrl, version }, 'xDS update ACKed');
    }
    this.checkWaiters();
    return sent;
  }

  // --- state of the world ------------------------------------------------------------------

  private onSotwRequest(stream: Stream, req: DiscoveryRequest): void {
    const typeUrl = req.type_url ?? '';
    if (!typeUrl) {
      this.log.warn({ stream: stream.id, node: stream.node }, 'xDS request without type_url ignored');
      return;
    }
    const { sub } = this.subscription(stream, typeUrl);
    const nonce = req.response_nonce ?? '';
    const names = req.resource_names ?? [];
    if (nonce && sub.lastNonce) {
      this.settle(stream, sub, nonce, req.error_detail, req.version_info ?? '');
      // A reply to an older response while a newer one is on its way: nothing to do.
      if (nonce !== sub.lastNonce) return;
      // An ACK or NACK without a change of subscription needs no answer.
      if (isWildcard(names) === sub.wildcard && (sub.wildcard || (names.length === sub.names.size && names.every((n) => sub.names.has(n))))) return;
    }
    // The first request for this type (or a new stream, or a change of resource names).
    sub.wildcard = isWildcard(names);
    sub.names = new Set(names.filter((n) => n !== '*'));
    this.sendSotw(stream, sub);
  }

  private sendSotw(stream: Stream, sub: Subscription): void {
    const snap = this.snapshot(sub.typeUrl);
    const resources = [...snap.resources.values()].filter((r) => sub.wildcard || sub.names.has(r.name));
    const nonce = this.nextNonce();
    this.remember(sub, nonce, { seq: snap.seq });
    this.write(stream, { version_info: snap.version, resources: resources.map((r) => r.any), type_url: sub.typeUrl, nonce, control_plane: CONTROL_PLANE });
    this.log.debug({ stream: stream.id, node: stream.node, type_url: sub.typeUrl, version: snap.version, nonce, resources: resources.length }, 'xDS response sent');
  }

  // --- delta ---------------------------------------------------------------------------------

  private onDeltaRequest(stream: Stream, req: DeltaDiscoveryRequest): void {
    const typeUrl = req.type_url ?? '';
    if (!typeUrl) {
      this.log.warn({ stream: stream.id, node: stream.node }, 'delta xDS request without type_url ignored');
      return;
    }
    const { sub, isNew } = this.subscription(stream, typeUrl);
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (isNew) {
      sub.wildcard = isWildcard(subscribe);
      sub.names = new Set(subscribe.filter((n) => n !== '*'));
      // What Envoy already has (after a reconnect) need not be sent again.
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) sub.known.set(name, version);
      this.sendDelta(stream, sub, true);
      return;
    }
    const nonce = req.response_nonce ?? '';
    if (nonce) {
      const sent = this.settle(stream, sub, nonce, req.error_detail);
      if (sent && req.error_detail && sent.changes) {
        // Envoy did not take what it rejected: forget that we think it has it.
        for (const [name, before] of sent.changes) {
          if (before === undefined) sub.known.delete(name);
          else sub.known.set(name, before);
        }
      }
    }
    if (!subscribe.length && !unsubscribe.length) return;
    for (const n of subscribe) {
      if (n === '*') sub.wildcard = true;
      else {
        sub.names.add(n);
        // A (re)subscribed resource is always sent, even if Envoy had it before.
        sub.known.delete(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === '*') sub.wildcard = false;
      else {
        sub.names.delete(n);
        sub.known.delete(n);
      }
    }
    this.sendDelta(stream, sub, false);
  }

  private sendDelta(stream: Stream, sub: Subscription, always: boolean): void {
    const snap = this.snapshot(sub.typeUrl);
    const updates = [...snap.resources.values()].filter((r) => (sub.wildcard || sub.names.has(r.name)) && sub.known.get(r.name) !== r.hash);
    const removed = [...sub.known.keys()].filter((n) => !snap.resources.has(n));
    if (!updates.length && !removed.length && !always) {
      // Nothing this stream holds changed: it is already at this version.
      if (snap.seq > sub.ackedSeq) sub.ackedSeq = snap.seq;
      return;
    }
    const changes = new Map<string, string | undefined>();
    for (const r of updates) {
      changes.set(r.name, sub.known.get(r.name));
      sub.known.set(r.name, r.hash);
    }
    for (const n of removed) {
      changes.set(n, sub.known.get(n));
      sub.known.delete(n);
    }
    const nonce = this.nextNonce();
    this.remember(sub, nonce, { seq: snap.seq, changes });
    this.write(stream, {
      system_version_info: snap.version,
      resources: updates.map((r) => ({ name: r.name, version: r.hash, resource: r.any })),
      type_url: sub.typeUrl,
      removed_resources: removed,
      nonce,
      control_plane: CONTROL_PLANE,
    });
    this.log.debug({ stream: stream.id, node: stream.node, type_url: sub.typeUrl, version: snap.version, nonce, updated: updates.length, removed: removed.length }, 'delta xDS response sent');
  }

  // --- waiting for ACKs ------------------------------------------------------------------------

  /** true: every subscribed stream has it; false: one rejected it; undefined: not yet. */
  private evaluate(w: Waiter): boolean | undefined {
    if (this.closed) return false;
    const subs = [...this.streams].map((s) => s.subs.get(w.typeUrl)).filter((s): s is Subscription => Boolean(s));
    if (subs.some((sub) => sub.nacked.has(w.seq))) return false;
    if (subs.length > 0 && subs.every((sub) => sub.ackedSeq >= w.seq)) return true;
    return undefined;
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) {
      const result = this.evaluate(w);
      if (result !== undefined) w.done(result);
    }
  }
}
