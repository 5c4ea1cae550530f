import net from 'node:net';
import { workerCount } from './workers';
import type { GatewayConfig } from './types';

/** A port the gateway listens on, with the setting that names it. */
export interface ListeningPort {
  key: string;
  host: string;
  port: number;
  /** Envoy binds it (only when the gateway manages Envoy), or the processor does. */
  owner: 'envoy' | 'processor';
}

/** Every port the configuration has the gateway listen on (0: any free port, left out). */
export function listeningPorts(config: GatewayConfig): ListeningPort[] {
  const { server, mtls, envoy, processor, demo, mcp } = config;
  const all: (ListeningPort | false)[] = [
    server.http_enabled && { key: 'server.http_port', host: server.listen_address, port: server.http_port, owner: 'envoy' },
    mtls.enabled && { key: 'mtls.port', host: mtls.listen_address, port: mtls.port, owner: 'envoy' },
    { key: 'envoy.admin_port', host: envoy.admin_address, port: envoy.admin_port, owner: 'envoy' },
    { key: 'processor.grpc_port', host: processor.listen_address, port: processor.grpc_port, owner: 'processor' },
    { key: 'processor.admin_port', host: processor.listen_address, port: processor.admin_port, owner: 'processor' },
    ...(workerCount(config) > 1 ? [{ key: 'processor.ext_proc_port', host: processor.listen_address, port: processor.ext_proc_port, owner: 'processor' as const }] : []),
    mcp.enabled && { key: 'mcp.port', host: processor.listen_address, port: mcp.port, owner: 'processor' },
    demo.echo.enabled && { key: 'demo.echo.port', host: processor.listen_address, port: demo.echo.port, owner: 'processor' },
  ];
  return all.filter((p): p is ListeningPort => p !== false && p.port !== 0);
}

/** A port the gateway needs cannot be bound; the message names the port and its setting. */
export class PortUnavailableError extends Error {}

/** Why `host:port` cannot be bound, or undefined when it can. */
function bindProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve('is already in use');
      else if (err.code === 'EACCES') resolve('needs privileges to be bound');
      else resolve(`cannot be bound on ${host} (${err.code ?? err.message})`);
    });
    probe.listen(port, host, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * Checks, before anything starts, that each port can be bound, so that a port in use is one
 * line naming its setting instead of a failure deep inside the processor or Envoy.
 */
export async function checkPortsFree(ports: ListeningPort[]): Promise<void> {
  for (const p of ports) {
    const problem = await bindProblem(p.host, p.port);
    if (problem) throw new PortUnavailableError(`${p.key} ${p.port} ${problem}`);
  }
}
