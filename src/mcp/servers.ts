import Ajv from 'ajv';
import { Type } from '@sinclair/typebox';
import { INHERITED_NAME_PROBLEM, inheritedNameKeys } from '../domain/own';
import type { SecretBox } from '../keys/secrets';
import type { Logger } from '../observability/logger';
import type { McpServerRecord, McpServerStore } from '../store/types';
import { mcpServerSchema, mcpUrlProblem, type McpConfig, type McpServerConfig } from './config';

/** An upstream MCP server as the gateway uses it: its credential resolved into its headers. */
export interface McpServerSpec {
  readonly name: string;
  readonly url: string;
  readonly transport: 'streamable-http' | 'sse';
  /** Sent on every upstream request, the credential included: never shown or logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly source: 'config' | 'api';
  readonly hasCredential: boolean;
  readonly credentialHeader: string;
  /** Header names configured besides the credential (their values are not shown either). */
  readonly headerNames: readonly string[];
  /** False when its credential cannot be had (an unset variable): the server is left out. */
  readonly available: boolean;
  /** Changes whenever the spec does: sessions reconnect to a changed server. */
  readonly revision: string;
}

/** A refused admin change, with the status and the offending field. */
export class McpServerSpecError extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** What POST/PUT /v1/mcp/servers take: the configuration's fields, the credential given as is or as `env:NAME`. */
const { credential_env: _env, ...configFields } = mcpServerSchema.properties;
const apiSchema = Type.Object({ ...configFields, credential: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })) }, { additionalProperties: false });
const ajv = new Ajv({ allErrors: false, useDefaults: true, strict: false });
const validateApi = ajv.compile(apiSchema);

function withCredential(headers: Record<string, string>, header: string, credential: string | undefined): Record<string, string> {
  if (credential === undefined) return headers;
  const name = header.toLowerCase();
  return { ...headers, [name]: name === 'authorization' ? `Bearer ${credential}` : credential };
}

/** The fields both kinds of server have, as the gateway uses them. */
interface ServerFields {
  name: string;
  url: string;
  transport: 'streamable-http' | 'sse';
  headers: Record<string, string>;
  credentialHeader: string;
  timeoutSeconds: number;
}

function toSpec(f: ServerFields, source: 'config' | 'api', credential: { declared: boolean; value: string | undefined }, revision: unknown): McpServerSpec {
  return {
    name: f.name,
    url: f.url,
    transport: f.transport,
    headers: withCredential(f.headers, f.credentialHeader, credential.value),
    timeoutMs: f.timeoutSeconds * 1000,
    source,
    hasCredential: credential.declared,
    credentialHeader: f.credentialHeader,
    headerNames: Object.keys(f.headers),
    available: !credential.declared || credential.value !== undefined,
    revision: JSON.stringify([source, revision]),
  };
}

function fromConfig(c: McpServerConfig, env: NodeJS.ProcessEnv): McpServerSpec {
  const fields = { ...c, credentialHeader: c.credential_header, timeoutSeconds: c.timeout_seconds };
  return toSpec(fields, 'config', { declared: Boolean(c.credential_env), value: c.credential_env ? env[c.credential_env] || undefined : undefined }, c);
}

function fromRecord(r: McpServerRecord, box: SecretBox, env: NodeJS.ProcessEnv): McpServerSpec {
  return toSpec(r, 'api', { declared: r.credential !== null, value: box.resolve(r.credential, env) }, r);
}

/** The admin API's view of a server: never its credential or header values. */
export function publicMcpServer(s: McpServerSpec): Record<string, unknown> {
  return {
    name: s.name,
    url: s.url,
    transport: s.transport,
    header_names: s.headerNames,
    has_credential: s.hasCredential,
    credential_header: s.credentialHeader,
    timeout_seconds: s.timeoutMs / 1000,
    available: s.available,
    source: s.source,
  };
}

/**
 * The upstream MCP servers: the configured ones and those added through the admin API, which
 * live in the store so every replica and restart sees them (followed by polling, and at once
 * after a change made here). Listeners hear of every change (sessions drop changed servers).
 */
export class McpServers {
  private readonly configured: Map<string, McpServerSpec>;
  private stored = new Map<string, McpServerSpec>();
  private records = new Map<string, McpServerRecord>();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((changed: string[]) => void)[] = [];

  constructor(
    config: McpConfig,
    private readonly store: McpServerStore,
    private readonly box: SecretBox,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.configured = new Map(config.servers.map((c) => [c.name, fromConfig(c, env)]));
    for (const s of this.configured.values()) {
      if (!s.available) log.warn({ mcp_server: s.name }, 'MCP server disabled: its credential variable is not set');
    }
  }

  async start(pollMs = 2000): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'reading MCP servers from the store failed'));
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  onChange(listener: (changed: string[]) => void): void {
    this.listeners.push(listener);
  }

  /** Re-reads the stored servers; tells listeners which names changed. */
  async refresh(): Promise<void> {
    const records = await this.store.list();
    const next = new Map<string, McpServerSpec>();
    const nextRecords = new Map<string, McpServerRecord>();
    for (const r of records) {
      // A configured server keeps its configuration.
      if (this.configured.has(r.name)) continue;
      next.set(r.name, fromRecord(r, this.box, this.env));
      nextRecords.set(r.name, r);
    }
    const changed = [...new Set([...next.keys(), ...this.stored.keys()])].filter((n) => next.get(n)?.revision !== this.stored.get(n)?.revision);
    this.stored = next;
    this.records = nextRecords;
    if (changed.length) for (const l of this.listeners) l(changed);
  }

  get(name: string): McpServerSpec | undefined {
    return this.configured.get(name) ?? this.stored.get(name);
  }

  all(): McpServerSpec[] {
    return [...this.configured.values(), ...this.stored.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Adds or replaces (PUT, POST) or changes (PATCH: fields left out stay) a stored server.
   * Configured servers are changed in the configuration only (409).
   */
  async put(body: unknown, opts: { name?: string; merge?: boolean } = {}): Promise<{ server: McpServerSpec; created: boolean }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new McpServerSpecError('The request body must be a JSON object.');
    const [inherited] = inheritedNameKeys(body, '', 1);
    if (inherited !== undefined) throw new McpServerSpecError(`'${inherited}' is ${INHERITED_NAME_PROBLEM}.`, inherited);
    const given = body as Record<string, unknown>;
    if (opts.name !== undefined && given.name !== undefined && given.name !== opts.name) {
      throw new McpServerSpecError('The body names another server than the path.', 'name');
    }
    const name = opts.name ?? given.name;
    if (typeof name === 'string' && this.configured.has(name)) {
      throw new McpServerSpecError(`The MCP server '${name}' is defined in the gateway configuration; change it there.`, 'name', 409);
    }
    const existing = typeof name === 'string' ? this.records.get(name) : undefined;
    if (opts.merge && !existing) throw new McpServerSpecError(`No MCP server named '${String(name)}'.`, null, 404);
    const base = opts.merge && existing ? { url: existing.url, transport: existing.transport, headers: existing.headers, credential_header: existing.credentialHeader, timeout_seconds: existing.timeoutSeconds } : {};
    const doc = structuredClone({ ...base, ...given, name });
    if (!validateApi(doc)) {
      const e = validateApi.errors?.[0];
      const param = e ? (e.instancePath.replace(/^\//, '').replace(/\//g, '.') || (e.params as { additionalProperty?: string }).additionalProperty || null) : null;
      throw new McpServerSpecError(`Invalid MCP server: ${param ?? 'body'} ${e?.message ?? 'is invalid'}.`, param);
    }
    const v = doc as unknown as { name: string; url: string; transport: 'streamable-http' | 'sse'; headers: Record<string, string>; credential?: string; credential_header: string; timeout_seconds: number };
    const urlProblem = mcpUrlProblem(v.url);
    if (urlProblem) throw new McpServerSpecError(`Invalid MCP server: url ${urlProblem}.`, 'url');
    const now = Date.now();
    const credential = v.credential !== undefined ? this.box.store(v.credential) : opts.merge && existing ? existing.credential : null;
    const rec: McpServerRecord = {
      name: v.name,
      url: v.url,
      transport: v.transport,
      headers: v.headers,
      credential,
      credentialHeader: v.credential_header,
      timeoutSeconds: v.timeout_seconds,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.upsert(rec);
    await this.refresh();
    return { server: this.get(rec.name)!, created: !existing };
  }

  async remove(name: string): Promise<boolean> {
    if (this.configured.has(name)) throw new McpServerSpecError(`The MCP server '${name}' is defined in the gateway configuration; remove it there.`, 'name', 409);
    const removed = await this.store.delete(name);
    await this.refresh();
    return removed;
  }
}
