/**
 * Parser for Envoy's `x-forwarded-client-cert` (XFCC) header.
 *
 * Format (Envoy docs): elements separated by `,`, one per proxy hop, the newest last; each
 * element is `key=value` pairs separated by `;`; keys are case-insensitive; a value holding
 * `,`, `;` or `=` is double-quoted, with `"` inside escaped as `\"`. Example:
 *
 *   By=spiffe://gw;Hash=ab12…;Subject="CN=agent-a,O=Example";URI=spiffe://example.org/agent/a;DNS=a.local
 *
 * Only the last element is the one the gateway's own Envoy added for this hop; anything before it
 * came from further away (or from the client) and proves nothing.
 */

export interface XfccElement {
  /** Every pair in order, keys lower-cased (Cert and Chain stay URL-encoded). */
  pairs: [string, string][];
  /** URI SANs of the server certificate that received the connection. */
  by: string[];
  hash?: string;
  subject?: string;
  /** URI SANs of the client certificate (SPIFFE ids). */
  uri: string[];
  /** DNS SANs of the client certificate. */
  dns: string[];
}

export class XfccError extends Error {
  override name = 'XfccError';
}

function element(pairs: [string, string][]): XfccElement {
  const all = (k: string) => pairs.filter(([key]) => key === k).map(([, v]) => v);
  return { pairs, by: all('by'), hash: all('hash')[0], subject: all('subject')[0], uri: all('uri'), dns: all('dns') };
}

/** All elements, oldest first. Throws XfccError on a malformed header. */
export function parseXfcc(header: string): XfccElement[] {
  if (header.trim() === '') return [];
  const elements: XfccElement[] = [];
  let pairs: [string, string][] = [];
  let key: string | undefined;
  let buf = '';
  // Whitespace outside quotes counts only between other characters, so ` a = "b " ` is a → `b `.
  let pendingSpace = '';
  let quoted = false;

  const add = (c: string) => {
    buf += pendingSpace + c;
    pendingSpace = '';
  };
  const endPair = () => {
    if (key === undefined) {
      if (buf !== '') throw new XfccError(`XFCC pair without "=": ${buf}`);
    } else {
      if (key === '') throw new XfccError('XFCC pair without a key');
      pairs.push([key.toLowerCase(), buf]);
    }
    key = undefined;
    buf = '';
    pendingSpace = '';
  };

  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (quoted) {
      if (c === '"') quoted = false;
      else if (c === '\\' && i + 1 < header.length) add(header[++i]);
      else add(c);
    } else if (c === '"') {
      buf += pendingSpace;
      pendingSpace = '';
      quoted = true;
    } else if (c === '=' && key === undefined) {
      key = buf;
      buf = '';
      pendingSpace = '';
    } else if (c === ';') {
      endPair();
    } else if (c === ',') {
      endPair();
      elements.push(element(pairs));
      pairs = [];
    } else if (/\s/.test(c)) {
      if (buf !== '') pendingSpace += c;
    } else {
      add(c);
    }
  }
  if (quoted) throw new XfccError('XFCC value with an unterminated quote');
  endPair();
  elements.push(element(pairs));
  return elements;
}

/** The element the nearest proxy (the gateway's Envoy) added: the last one. */
export function currentElement(header: string): XfccElement | undefined {
  return parseXfcc(header).at(-1);
}

export interface CertIdentity {
  identity: string;
  source: 'uri' | 'dns' | 'subject';
}

/** The certificate's identity: its URI SAN (SPIFFE id), else its DNS SAN, else its subject. */
export function identityOf(el: XfccElement | undefined): CertIdentity | undefined {
  if (!el) return undefined;
  // Envoy writes `URI=` / `DNS=` with nothing after them when the certificate has no such SAN.
  const uri = el.uri.find((v) => v !== '');
  if (uri) return { identity: uri, source: 'uri' };
  const dns = el.dns.find((v) => v !== '');
  if (dns) return { identity: dns, source: 'dns' };
  if (el.subject) return { identity: el.subject, source: 'subject' };
  return undefined;
}
