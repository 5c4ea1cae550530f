import fs from 'node:fs';
import https from 'node:https';
import { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CertPair } from '../../src/identity/dev-certs';

/** The official MCP SDK client, connected to the gateway's `/mcp` (through Envoy). */
export interface GatewayMcpClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

export async function connectMcp(
  url: string,
  opts: { key?: string; fetch?: typeof fetch; capabilities?: ConstructorParameters<typeof Client>[1] } = {},
): Promise<GatewayMcpClient> {
  const client = new Client({ name: 'gateway-test', version: '1.0.0' }, opts.capabilities);
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: opts.key ? { headers: { authorization: `Bearer ${opts.key}` } } : undefined,
    fetch: opts.fetch,
  });
  await client.connect(transport);
  return {
    client,
    transport,
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/**
 * A fetch that presents a client certificate (the mTLS listener), for the SDK's `fetch` option:
 * Node's own fetch cannot take one without the undici package.
 */
export function mtlsFetch(ca: string, cert: CertPair): typeof fetch {
  const tls = { ca: fs.readFileSync(ca), cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key) };
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = typeof init.body === 'string' ? init.body : undefined;
    return new Promise<Response>((resolve, reject) => {
      const req = https.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers, agent: false, ...tls }, (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 500;
        const stream = status === 204 || status === 202 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (!stream) res.resume();
        resolve(new Response(stream, { status, headers: h }));
      });
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
  }) as typeof fetch;
}
