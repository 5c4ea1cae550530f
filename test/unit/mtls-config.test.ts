import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load';
import { buildBootstrap, writeBootstrap } from '../../src/envoy/config/bootstrap';
import { EnvoySupervisor, findEnvoy } from '../../src/envoy/supervisor';
import { generateDevCerts } from '../../src/identity/dev-certs';

/** The `mtls` and `server.http_enabled` configuration and the Envoy listeners made from it. */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtls-config-'));
const parse = (raw: object) => parseConfig(structuredClone(raw), dir, {});
const mtlsOn = { enabled: true, server_cert: 'certs/server.crt', server_key: 'certs/server.key', client_ca: 'certs/ca.crt' };
// The configuration check requires the certificate files to exist.
beforeAll(() => generateDevCerts({ dir: path.join(dir, 'certs'), clients: ['spiffe://example.org/agent/a'] }));

function problemsOf(raw: object): string {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('expected a ConfigError');
}

const hcmOf = (listener: any) => listener.filter_chains[0].filters[0].typed_config;

describe('configuration', () => {
  test('defaults: plain listener on, mTLS off on 0.0.0.0:8443, no identities', () => {
    const c = parse({});
    expect(c.server.http_enabled).toBe(true);
    expect(c.mtls).toEqual({ enabled: false, listen_address: '0.0.0.0', port: 8443, identities: [] });
  });

  test.each([
    [{ mtls: { enabled: true } }, ['mtls.server_cert: is required', 'mtls.server_key: is required', 'mtls.client_ca: is required']],
    [{ mtls: { ...mtlsOn, client_ca: undefined } }, ['mtls.client_ca: is required when mtls.enabled is true']],
    [{ mtls: { ...mtlsOn, client_ca: 'certs/missing-ca.crt' } }, ['mtls.client_ca: file not found:']],
    [{ mtls: { ...mtlsOn, port: 9002 } }, ['processor.grpc_port: port 9002 is already used by mtls.port']],
    [{ mtls: { identities: [{ id: 'x' }] } }, ['mtls.identities[0].match: is required']],
    [{ mtls: { identities: [{ match: 'a', tier: 'gold' }] } }, ['mtls.identities[0].tier: must be one of standard, langchain']],
    [{ mtls: { identities: [{ match: 'a', quota: 1 }] } }, ['mtls.identities[0].quota: unknown key']],
    [{ mtls: { cert: 'x' } }, ['mtls.cert: unknown key']],
    [{ server: { http_enabled: 'no' } }, ['server.http_enabled: must be boolean']],
  ])('%j is refused naming the key', (raw, expected) => {
    const problems = problemsOf(raw);
    for (const e of expected) expect(problems).toContain(e);
  });

  test('the plain port is free for others when the plain listener is off', () => {
    expect(() => parse({ server: { http_enabled: false, http_port: 9002 } })).not.toThrow();
  });

  test('mtls.identities become the mtls-identity plugin options unless the entry sets its own', () => {
    const identities = [{ match: 'spiffe://example.org/agent/*', team: 'agents' }];
    const c = parse({ mtls: { identities }, plugins: [{ use: 'mtls-identity' }, { use: 'mtls-identity', name: 'own', options: { identities: [] } }, { use: 'virtual-keys' }] });
    expect(c.plugins[0].options.identities).toEqual([{ match: 'spiffe://example.org/agent/*', team: 'agents', tier: 'standard' }]);
    expect(c.plugins[1].options.identities).toEqual([]);
    expect(c.plugins[2].options).toEqual({});
  });
});

describe('Envoy listeners', () => {
  test('by default only the plain listener, which strips a client-sent x-forwarded-client-cert', () => {
    const b: any = buildBootstrap(parse({}));
    expect(b.static_resources.listeners.map((l: any) => l.name)).toEqual(['http']);
    expect(hcmOf(b.static_resources.listeners[0]).forward_client_cert_details).toBe('SANITIZE');
  });

  test('the mTLS listener requires a client certificate from client_ca and runs the same HTTP connection manager', () => {
    const b: any = buildBootstrap(parse({ mtls: { ...mtlsOn, port: 18443, listen_address: '127.0.0.1' } }));
    const [plain, mtls] = b.static_resources.listeners;
    expect(mtls.name).toBe('mtls');
    expect(mtls.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 18443 });
    const tls = mtls.filter_chains[0].transport_socket.typed_config;
    expect(tls.require_client_certificate).toBe(true);
    // Paths resolve against the configuration file's directory.
    expect(tls.common_tls_context.tls_certificates[0]).toEqual({ certificate_chain: { filename: path.join(dir, 'certs/server.crt') }, private_key: { filename: path.join(dir, 'certs/server.key') } });
    expect(tls.common_tls_context.validation_context.trusted_ca.filename).toBe(path.join(dir, 'certs/ca.crt'));
    expect(tls.common_tls_context.tls_params.tls_minimum_protocol_version).toBe('TLSv1_2');
    const hcm = hcmOf(mtls);
    expect(hcm.forward_client_cert_details).toBe('SANITIZE_SET');
    expect(hcm.set_current_client_cert_details).toEqual({ subject: true, uri: true, dns: true });
    const shared = ({ forward_client_cert_details, set_current_client_cert_details, stat_prefix, ...rest }: any) => rest;
    expect(shared(hcm)).toEqual(shared(hcmOf(plain)));
  });

  test('server.http_enabled: false leaves only the mTLS listener', () => {
    const b: any = buildBootstrap(parse({ server: { http_enabled: false }, mtls: mtlsOn }));
    expect(b.static_resources.listeners.map((l: any) => l.name)).toEqual(['mtls']);
  });

  test('with real certificates the bootstrap passes envoy --mode validate', () => {
    generateDevCerts({ dir: path.join(dir, 'certs'), clients: ['spiffe://example.org/agent/a'] });
    const b: any = buildBootstrap(parse({ mtls: { ...mtlsOn, port: 18443 } }));
    delete b.dynamic_resources;
    const file = writeBootstrap(path.join(dir, 'mtls-bootstrap.yaml'), b);
    expect(EnvoySupervisor.validate(findEnvoy().bin, file)).toBeUndefined();
  });
});
