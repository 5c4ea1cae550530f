import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Development certificates for the mTLS listener, made with the `openssl` binary: a CA, a server
 * certificate and client certificates carrying SPIFFE ids as URI SANs. Used by `npm run certs`
 * and by the tests (which also need an expired client certificate and an unrelated CA: call
 * this again with another `dir`).
 *
 * Not for production: keys are unencrypted and the CA lives next to what it signs.
 */

export interface ClientCertSpec {
  /** SPIFFE id (or any URI) put in the certificate's URI SAN. */
  id: string;
  /** File name stem; defaults to the id's last path segment. */
  name?: string;
  /** Valid only in January 2020, for testing that expired certificates are refused. */
  expired?: boolean;
}

export interface DevCertOptions {
  /** Output folder; created if missing. An existing ca.crt/ca.key there is reused. */
  dir: string;
  clients?: (string | ClientCertSpec)[];
  /** DNS names and IP addresses of the server certificate. */
  serverNames?: string[];
  /** Validity of new certificates. */
  days?: number;
  openssl?: string;
}

export interface CertPair {
  cert: string;
  key: string;
}

export interface DevCerts {
  dir: string;
  ca: CertPair;
  server: CertPair;
  clients: (CertPair & { id: string; name: string })[];
}

const URI_ID = /^[a-z][a-z0-9+.-]*:[^\s,;"]+$/i;

export function generateDevCerts(opts: DevCertOptions): DevCerts {
  const dir = path.resolve(opts.dir);
  const days = String(opts.days ?? 365);
  const openssl = (args: string[]) => execFileSync(opts.openssl ?? 'openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  fs.mkdirSync(dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-certs-'));
  const out = (name: string): CertPair => ({ cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) });
  const serial = () => `0x${randomBytes(12).toString('hex')}`;
  const ca = out('ca');

  /** A fresh P-256 key and a CSR for it. */
  const request = (pair: CertPair, cn: string): string => {
    const csr = path.join(work, `${path.basename(pair.cert)}.csr`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', pair.key, '-out', csr, '-subj', `/O=llm-gateway dev/CN=${cn}`]);
    fs.chmodSync(pair.key, 0o600);
    return csr;
  };
  const extensions = (lines: string[]): string => {
    const f = path.join(work, `ext-${randomBytes(4).toString('hex')}.cnf`);
    fs.writeFileSync(f, `[leaf]\n${lines.join('\n')}\n`);
    return f;
  };
  const leafExt = (usage: 'serverAuth' | 'clientAuth', san: string) =>
    extensions(['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment', `extendedKeyUsage = ${usage}`, `subjectAltName = ${san}`]);
  const sign = (csr: string, pair: CertPair, ext: string) =>
    openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(), '-days', days, '-sha256', '-extfile', ext, '-extensions', 'leaf', '-out', pair.cert]);

  try {
    if (!fs.existsSync(ca.cert) || !fs.existsSync(ca.key)) {
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', String(Math.max(3650, Number(days))), '-sha256',
        '-subj', `/O=llm-gateway dev/CN=llm-gateway dev CA ${randomBytes(3).toString('hex')}`,
        '-addext', 'basicConstraints = critical, CA:TRUE', '-addext', 'keyUsage = critical, keyCertSign, cRLSign']);
      fs.chmodSync(ca.key, 0o600);
    }

    const server = out('server');
    const names = opts.serverNames ?? ['localhost', '127.0.0.1'];
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(', ');
    sign(request(server, names[0]), server, leafExt('serverAuth', san));

    const used = new Set<string>();
    const clients = (opts.clients ?? []).map((c) => {
      const spec = typeof c === 'string' ? { id: c } : c;
      if (!URI_ID.test(spec.id)) throw new Error(`client id "${spec.id}" is not a URI such as spiffe://example.org/agent/a`);
      const stem = spec.name ?? `client-${spec.id.replace(/\/+$/, '').split('/').pop()!.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
      let name = stem;
      for (let i = 2; used.has(name); i++) name = `${stem}-${i}`;
      used.add(name);
      const pair = out(name);
      const csr = request(pair, spec.id.split('/').pop() || spec.id);
      const ext = leafExt('clientAuth', `URI:${spec.id}`);
      if (spec.expired) signExpired(openssl, work, csr, ca, pair, ext);
      else sign(csr, pair, ext);
      return { id: spec.id, name, ...pair };
    });
    return { dir, ca, server, clients };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `openssl x509 -req` cannot backdate (OpenSSL 3.0), so the expired certificate goes through
 * `openssl ca`, which takes explicit start and end dates but wants a small database.
 */
function signExpired(openssl: (args: string[]) => Buffer, work: string, csr: string, ca: CertPair, pair: CertPair, ext: string): void {
  const db = path.join(work, 'ca-db');
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), `${randomBytes(12).toString('hex')}\n`);
  const cnf = path.join(db, 'ca.cnf');
  fs.writeFileSync(
    cnf,
    ['[ca]', 'default_ca = dev', '[dev]', `database = ${db}/index.txt`, `new_certs_dir = ${db}`, `serial = ${db}/serial`, 'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', ''].join('\n'),
  );
  openssl(['ca', '-batch', '-notext', '-config', cnf, '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', pair.cert, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extfile', ext, '-extensions', 'leaf']);
}
