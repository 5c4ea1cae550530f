import fs from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { CertPair } from '../../src/identity/dev-certs';

export interface MtlsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface MtlsRequest {
  port: number;
  /** The CA that signed the gateway's server certificate. */
  ca: string;
  /** The client certificate to present, if any. */
  cert?: CertPair;
  body: string;
  path?: string;
  headers?: Record<string, string>;
  tls?: https.RequestOptions;
}

/** A JSON POST on the gateway's mTLS listener; rejects when there is no HTTP response at all. */
export function mtlsPost(r: MtlsRequest): Promise<MtlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: r.port,
        method: 'POST',
        path: r.path ?? '/v1/chat/completions',
        agent: false,
        ca: fs.readFileSync(r.ca),
        ...(r.cert ? { cert: fs.readFileSync(r.cert.cert), key: fs.readFileSync(r.cert.key) } : {}),
        headers: { 'content-type': 'application/json', ...r.headers },
        ...r.tls,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data ? JSON.parse(data) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}
