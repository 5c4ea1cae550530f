import Ajv from 'ajv';
import { Type } from '@sinclair/typebox';
import { INHERITED_NAME_PROBLEM, inheritedNameKeys } from '../domain/own';
import type { Logger } from '../observability/logger';
import type { McpAccessRuleRecord, McpAccessRuleStore } from '../store/types';
import type { McpAccessRule } from './config';
import { randomId } from './ids';

/**
 * The MCP access rules: those of `mcp.access` (read-only here) and those added through
 * /v1/mcp/access, which live in the store so that every replica and restart sees them. The two
 * sets never touch: re-reading the configuration cannot undo a run-time rule, and a run-time rule
 * cannot change a configured one. Every session asks for the rules on each check, so a change
 * applies at once here and within one poll (2 s) on other replicas.
 */

/** A rule as the admin API shows it. */
export interface McpAccessRuleView extends McpAccessRule {
  id: string;
  description: string | null;
  source: 'config' | 'api';
}

/** A refused admin change, with the status and the offending field. */
export class McpAccessRuleError extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly status = 400,
  ) {
    super(message);
  }
}

// Bounded, so that a rule stays a rule and not a data store; globs of printable characters.
const PATTERN = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });
const PATTERNS = Type.Array(PATTERN, { minItems: 1, maxItems: 100 });
const ruleSchema = Type.Object(
  {
    keys: Type.Optional(PATTERNS),
    teams: Type.Optional(PATTERNS),
    identities: Type.Optional(PATTERNS),
    servers: Type.Optional(PATTERNS),
    tools: Type.Optional(PATTERNS),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const validate = new Ajv({ allErrors: false, strict: false }).compile(ruleSchema);

const configId = (i: number) => `config-${i}`;

function view(r: McpAccessRuleRecord): McpAccessRuleView {
  return {
    id: r.id,
    ...(r.keys ? { keys: r.keys } : {}),
    ...(r.teams ? { teams: r.teams } : {}),
    ...(r.identities ? { identities: r.identities } : {}),
    servers: r.servers,
    tools: r.tools,
    description: r.description,
    source: 'api',
  };
}

export class McpAccessRules {
  private readonly configured: McpAccessRuleView[];
  private stored: McpAccessRuleRecord[] = [];
  private effective: readonly McpAccessRule[];
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(
    config: readonly McpAccessRule[],
    private readonly store: McpAccessRuleStore,
    private readonly log: Logger,
  ) {
    this.configured = config.map((r, i) => ({ ...r, id: configId(i), description: null, source: 'config' as const }));
    this.effective = config;
  }

  async start(pollMs = 2000): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'reading MCP access rules from the store failed'));
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Called after the rules changed (sessions tell their clients to re-list tools). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The rules in force: configured and stored. */
  rules(): readonly McpAccessRule[] {
    return this.effective;
  }

  all(): McpAccessRuleView[] {
    return [...this.configured, ...this.stored.map(view)];
  }

  get(id: string): McpAccessRuleView | undefined {
    return this.all().find((r) => r.id === id);
  }

  async refresh(): Promise<void> {
    const records = await this.store.list();
    const before = JSON.stringify(this.stored);
    this.stored = records;
    this.effective = [...this.configured, ...records.map(view)].map(({ keys, teams, identities, servers, tools }) => ({ keys, teams, identities, servers, tools }));
    if (JSON.stringify(records) !== before) for (const l of this.listeners) l();
  }

  /** Adds a rule (no `id`) or replaces a stored one. Configured rules change in the configuration only (409). */
  async put(body: unknown, id?: string): Promise<{ rule: McpAccessRuleView; created: boolean }> {
    if (id !== undefined && this.configured.some((r) => r.id === id)) {
      throw new McpAccessRuleError(`The MCP access rule '${id}' is defined in the gateway configuration; change it there.`, 'id', 409);
    }
    const existing = id === undefined ? undefined : this.stored.find((r) => r.id === id);
    if (id !== undefined && !existing) throw new McpAccessRuleError(`No MCP access rule with id '${id.slice(0, 100)}'.`, null, 404);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new McpAccessRuleError('The request body must be a JSON object.');
    const [inherited] = inheritedNameKeys(body, '', 1);
    if (inherited !== undefined) throw new McpAccessRuleError(`'${inherited}' is ${INHERITED_NAME_PROBLEM}.`, inherited);
    if (!validate(body)) {
      const e = validate.errors?.[0];
      const param = e ? e.instancePath.replace(/^\//, '').replace(/\/\d+$/, '').replace(/\//g, '.') || (e.params as { additionalProperty?: string }).additionalProperty || null : null;
      throw new McpAccessRuleError(`Invalid MCP access rule: ${param ?? 'body'} ${e?.message ?? 'is invalid'}.`, param);
    }
    const v = body as { keys?: string[]; teams?: string[]; identities?: string[]; servers?: string[]; tools?: string[]; description?: string | null };
    const now = Date.now();
    const rec: McpAccessRuleRecord = {
      id: existing?.id ?? `mcpa_${randomId().slice(0, 16)}`,
      keys: v.keys ?? null,
      teams: v.teams ?? null,
      identities: v.identities ?? null,
      servers: v.servers ?? ['*'],
      tools: v.tools ?? ['*'],
      description: v.description ?? null,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.upsert(rec);
    await this.refresh();
    return { rule: view(rec), created: !existing };
  }

  async remove(id: string): Promise<boolean> {
    if (this.configured.some((r) => r.id === id)) throw new McpAccessRuleError(`The MCP access rule '${id}' is defined in the gateway configuration; remove it there.`, 'id', 409);
    const removed = await this.store.delete(id);
    await this.refresh();
    return removed;
  }
}
