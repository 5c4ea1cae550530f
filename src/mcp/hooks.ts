import { GatewayError, isGatewayError } from '../domain/errors';
import type { JsonObject, Principal } from '../domain';
import type { Logger } from '../observability/logger';
import type { PluginLogger, ToolCall } from '../plugins/api';
import type { LoadedPlugin } from '../plugins/host';
import { withTimeout } from '../util/async';
import type { McpCaller } from './policy';

type ToolHook = 'onToolCall' | 'onToolResult';

/** The principal plugins see for an MCP caller (the same fields the model endpoints give them). */
export function principalOf(c: McpCaller): Principal {
  return { id: c.id, kind: c.kind, user: c.user, team: c.team, tier: c.tier, identity: c.identity };
}

/** One tool call as the plugins' tool hooks see and change it. */
export class ToolCallState implements ToolCall {
  result: JsonObject | undefined;

  constructor(
    readonly id: string,
    readonly server: string,
    readonly tool: string,
    readonly principal: Principal,
    private args: JsonObject,
    readonly log: PluginLogger,
  ) {}

  get arguments(): JsonObject {
    return this.args;
  }

  setArguments(args: JsonObject): void {
    this.args = args;
  }

  setResult(result: JsonObject): void {
    this.result = result;
  }
}

/**
 * Runs the plugins' tool-call hooks in order, with each plugin's timeout and error policy, as
 * the plugin host runs the request hooks: a GatewayError refuses the call; any other failure is
 * logged and, for a fail_closed plugin, refuses it too.
 */
export async function runToolHooks(plugins: readonly LoadedPlugin[], hook: ToolHook, call: ToolCallState, log: Logger): Promise<void> {
  for (const p of plugins) {
    const fn = p.hooks[hook];
    if (typeof fn !== 'function') continue;
    try {
      await withTimeout(Promise.resolve(fn.call(p.hooks, call)), p.timeoutMs, () => new Error(`timed out after ${p.timeoutMs} ms`));
    } catch (err) {
      if (isGatewayError(err)) throw err;
      log.error({ plugin: p.name, hook, err: { message: (err as Error).message } }, `plugin "${p.name}" failed in ${hook}`);
      if (p.onError === 'fail_closed') throw new GatewayError(500, 'plugin_error', `plugin "${p.name}" failed during ${hook}`, { type: 'server_error' });
    }
  }
}
