import { globMatches } from '../domain/glob';
import type { McpAccessRule } from './config';

/** Who is calling `/mcp`, as authenticated by the front (caller.ts). Never a secret. */
export interface McpCaller {
  /** Key id, or the identity rule's id (default: the certificate identity). */
  id: string;
  kind: 'api_key' | 'mtls';
  user?: string;
  team?: string;
  tier?: string;
  /** The verified certificate identity, when the caller came over mTLS. */
  identity?: string;
}

const anyMatches = (patterns: readonly string[] | undefined, value: string | undefined) =>
  value !== undefined && (patterns ?? []).some((p) => globMatches(p, value));

/** Whether a rule is about this caller: it names the caller's key, team or identity, or no one. */
export function ruleApplies(rule: McpAccessRule, caller: McpCaller): boolean {
  if (!rule.keys && !rule.teams && !rule.identities) return true;
  return (
    (caller.kind === 'api_key' && anyMatches(rule.keys, caller.id)) ||
    anyMatches(rule.teams, caller.team) ||
    (caller.kind === 'mtls' && anyMatches(rule.identities, caller.identity))
  );
}

/** What one caller may use: the union of the rules that apply to it. */
export interface McpAccess {
  server(server: string): boolean;
  /** `qualified` is the namespaced name, `<server>__<tool>`. */
  tool(server: string, qualified: string): boolean;
}

/** No rules configured: every authenticated caller may use everything. */
export function accessFor(rules: readonly McpAccessRule[], caller: McpCaller): McpAccess {
  if (rules.length === 0) return { server: () => true, tool: () => true };
  const mine = rules.filter((r) => ruleApplies(r, caller));
  return {
    server: (server) => mine.some((r) => anyMatches(r.servers, server)),
    tool: (server, qualified) => mine.some((r) => anyMatches(r.servers, server) && anyMatches(r.tools, qualified)),
  };
}

/**
 * The caller's access under rules that change at run time (/v1/mcp/access): worked out again
 * whenever the rule list is a new one, so a session follows every change at once.
 */
export function liveAccessFor(rules: () => readonly McpAccessRule[], caller: McpCaller): McpAccess {
  let seen: readonly McpAccessRule[] | undefined;
  let current: McpAccess = accessFor([], caller);
  const now = () => {
    const r = rules();
    if (r !== seen) {
      seen = r;
      current = accessFor(r, caller);
    }
    return current;
  };
  return { server: (server) => now().server(server), tool: (server, qualified) => now().tool(server, qualified) };
}
