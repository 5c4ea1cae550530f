import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the fake upstreams (fake-openai, fake-anthropic, fake-google, fake-cohere) share: the
 * recorded-request and handler types, the server handle, and an HTTP server that reads, parses
 * (leniently) and records every request before handing it to a provider-specific dispatcher.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export type Handler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface FakeServer {
  /** Base URL including the API version path (e.g. `http://127.0.0.1:PORT/v1`). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replaces the default behaviour for the next requests (after the provider's own checks). */
  handle(h: Handler | undefined): void;
  /** Forgets the recorded requests and goes back to the default behaviour (between tests). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Provider-specific handling of one recorded request: auth and framing checks, then the override
 * handler (when set) or the provider's default behaviour.
 */
export type Dispatcher = (rec: RecordedRequest, res: http.ServerResponse, handler: Handler | undefined) => void | Promise<void>;

/** Writes a JSON body with its content length; `headers` are added to (or override) the defaults. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Starts a recording server on 127.0.0.1 (random port); `basePath` is appended to the URL. */
export async function startRecordingServer(basePath: string, dispatch: Dispatcher): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  let handler: Handler | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: any;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
    requests.push(rec);
    await dispatch(rec, res, handler);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    port,
    requests,
    handle: (h) => (handler = h),
    reset: () => {
      requests.length = 0;
      handler = undefined;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
