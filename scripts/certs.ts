#!/usr/bin/env node
/**
 * `npm run certs`: development certificates for the mTLS listener (a CA, a server certificate
 * for localhost/127.0.0.1, and client certificates with SPIFFE ids). An existing CA in the
 * folder is reused, so adding a client later keeps the earlier certificates valid.
 *
 *   npm run certs -- --client spiffe://example.org/agent/a --client spiffe://example.org/agent/b
 */
import path from 'node:path';
import { generateDevCerts } from '../src/identity/dev-certs';

const USAGE = `Usage: npm run certs -- [--dir DIR] [--client SPIFFE_ID]... [--host NAME]... [--days N]

  --dir DIR          output folder (default: certs)
  --client ID        client certificate with this URI SAN; repeatable
                     (default: spiffe://example.org/agent/dev)
  --host NAME        server certificate DNS name or IP; repeatable (default: localhost, 127.0.0.1)
  --days N           validity of the new certificates (default: 365)
`;

function main(argv: string[]): void {
  let dir = 'certs';
  let days: number | undefined;
  const clients: string[] = [];
  const hosts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') return void process.stdout.write(USAGE);
    else if (a === '--dir') dir = value();
    else if (a === '--client') clients.push(value());
    else if (a === '--host') hosts.push(value());
    else if (a === '--days') days = Number(value());
    else throw new Error(`unknown argument "${a}"\n\n${USAGE}`);
  }
  const certs = generateDevCerts({
    dir,
    clients: clients.length ? clients : ['spiffe://example.org/agent/dev'],
    serverNames: hosts.length ? hosts : undefined,
    days,
  });
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r && !r.startsWith('..') ? r : p;
  };
  const lines = [
    `CA:      ${rel(certs.ca.cert)}  (key ${rel(certs.ca.key)})`,
    `server:  ${rel(certs.server.cert)}  (key ${rel(certs.server.key)})`,
    ...certs.clients.map((c) => `client:  ${rel(c.cert)}  (key ${rel(c.key)})  ${c.id}`),
    '',
    'gateway.yaml:',
    '  mtls:',
    '    enabled: true',
    `    server_cert: ${rel(certs.server.cert)}`,
    `    server_key: ${rel(certs.server.key)}`,
    `    client_ca: ${rel(certs.ca.cert)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  const e = err as Error & { stderr?: Buffer };
  process.stderr.write(`certs: ${e.message}${e.stderr ? `\n${e.stderr.toString()}` : ''}\n`);
  process.exit(1);
}
