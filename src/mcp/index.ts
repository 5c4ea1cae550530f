import type { AuditEvent, UsageRecord } from '../domain';
import type { GatewayConfig } from '../config/types';
import type { KeyService } from '../keys/service';
import type { SecretBox } from '../keys/secrets';
import type { Logger } from '../observability/logger';
import type { MetricsApi } from '../plugins/api';
import type { LoadedPlugin } from '../plugins/host';
import type { RateLimiter } from '../ratelimit/limiter';
import type { McpAccessRuleStore, McpServerStore } from '../store/types';
import { McpAccessRules } from './access';
import { toolCallAudit, toolCallUsage } from './records';
import { McpServers } from './servers';

export { registerMcpServerRoutes } from './admin-api';
export { registerMcpAccessRoutes } from './access-api';
export { McpAccessRules } from './access';
export { McpServers } from './servers';

export interface McpGateway {
  readonly port: number;
  readonly servers: McpServers;
  readonly access: McpAccessRules;
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export interface McpGatewayDeps {
  config: GatewayConfig;
  store: McpServerStore;
  accessStore: McpAccessRuleStore;
  box: SecretBox;
  keys: KeyService;
  limiter: RateLimiter;
  plugins: readonly LoadedPlugin[];
  usage: (r: UsageRecord) => void;
  audit: (e: AuditEvent) => void;
  log: Logger;
  metrics: MetricsApi;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the MCP gateway: the upstream servers (configured and stored, followed live; the admin
 * API manages them even while `/mcp` is off) and, with `mcp.enabled`, the HTTP front Envoy
 * routes `/mcp` to. One process serves it (the primary with
 * processor workers), so sessions live in memory there.
 */
export async function startMcpGateway(d: McpGatewayDeps): Promise<McpGateway> {
  const mcp = d.config.mcp;
  const log = d.log.child({ component: 'mcp' });
  const servers = new McpServers(mcp, d.store, d.box, log, d.env);
  await servers.start();
  const access = new McpAccessRules(mcp.access, d.accessStore, log);
  await access.start();
  const refresh = async () => {
    await Promise.all([servers.refresh(), access.refresh()]);
  };
  if (!mcp.enabled) {
    return {
      port: 0,
      servers,
      access,
      refresh,
      close: async () => {
        servers.stop();
        access.stop();
      },
    };
  }
  // The MCP SDK behind the front (about 30 MiB) is loaded only when /mcp is served.
  const { McpFront } = await import('./front');
  // Labels stay bounded: servers are configured or added by admins; tools are not labels.
  const calls = d.metrics.counter('gateway_mcp_tool_calls_total', 'MCP tool calls through /mcp, by upstream server, outcome and status', ['server', 'outcome', 'status']);
  const durations = d.metrics.histogram('gateway_mcp_tool_call_duration_seconds', 'MCP tool call duration through /mcp, by upstream server', ['server'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  const front = new McpFront({
    config: mcp,
    keys: d.keys,
    identities: d.config.mtls.identities,
    limiter: d.limiter,
    servers,
    access,
    plugins: d.plugins,
    log,
    knownCapabilities: new Map(),
    record: (f) => {
      calls.inc({ server: f.server, outcome: f.outcome, status: String(f.status) });
      durations.observe({ server: f.server }, f.durationMs / 1000);
      d.usage(toolCallUsage(f));
      if (mcp.audit_tool_calls) d.audit(toolCallAudit(f));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    front.http.once('error', reject);
    front.http.listen(mcp.port, d.config.processor.listen_address, () => resolve((front.http.address() as { port: number }).port));
  });
  log.info({ port, servers: servers.all().map((s) => s.name) }, 'MCP gateway started');
  return {
    port,
    servers,
    access,
    refresh,
    async close() {
      servers.stop();
      access.stop();
      await front.close();
    },
  };
}
