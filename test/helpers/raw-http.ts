import net from 'node:net';

/**
 * HTTP/1.1 over a plain socket, for requests fetch and node:http refuse to send: invalid UTF-8,
 * control characters in headers, conflicting framing, odd methods and request lines.
 */

export interface RawReply {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
  /** The connection closed before a complete response arrived (status 0). */
  incomplete: boolean;
}

export interface HttpRequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string | Buffer>;
  body?: string | Buffer;
  /** Leave out the automatic `content-length` (the case sets its own framing). */
  noContentLength?: boolean;
}

/** Serialises a request; header names and values are written byte for byte. */
export function buildRequest(spec: HttpRequestSpec, host: string): Buffer {
  const body = spec.body === undefined ? undefined : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
  const head: Buffer[] = [Buffer.from(`${spec.method ?? 'GET'} `, 'latin1'), Buffer.from(spec.path, 'latin1'), Buffer.from(` HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n`)];
  const names = new Set<string>();
  for (const [k, v] of Object.entries(spec.headers ?? {})) {
    names.add(k.toLowerCase());
    head.push(Buffer.from(`${k}: `, 'latin1'), Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1'), Buffer.from('\r\n'));
  }
  if (body && !spec.noContentLength && !names.has('content-length')) head.push(Buffer.from(`content-length: ${body.length}\r\n`));
  head.push(Buffer.from('\r\n'));
  return Buffer.concat(body ? [...head, body] : head);
}

/** Sends `data` and reads one response (framed by content-length, chunked, or the close). */
export function rawRequest(port: number, data: Buffer | string, timeoutMs = 10000, headRequest = false): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (r: RawReply | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const timer = setTimeout(() => finish(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResponse(buf, false, headRequest);
      if (r) finish(r);
    });
    socket.on('error', () => finish(parseResponse(buf, true, headRequest) ?? { status: 0, headers: {}, body: buf, incomplete: true }));
    socket.on('close', () => finish(parseResponse(buf, true, headRequest) ?? { status: 0, headers: {}, body: buf, incomplete: true }));
  });
}

/** A complete response in `buf`, or undefined while more is expected. */
export function parseResponse(buf: Buffer, closed: boolean, headRequest = false): RawReply | undefined {
  // Interim responses (100 Continue) precede the real one.
  while (/^HTTP\/\d\.\d 1\d\d /.test(buf.subarray(0, 16).toString('latin1'))) {
    const interim = buf.indexOf('\r\n\r\n');
    if (interim < 0) return undefined;
    buf = buf.subarray(interim + 4);
  }
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  const rest = buf.subarray(end + 4);
  if (headRequest || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0), incomplete: false };
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length >= n) return { status, headers, body: rest.subarray(0, n), incomplete: false };
    return closed ? { status, headers, body: rest, incomplete: true } : undefined;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', pos);
      if (eol < 0) break;
      const size = parseInt(rest.subarray(pos, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) return { status, headers, body: Buffer.concat(chunks), incomplete: false };
      if (rest.length < eol + 2 + size + 2) break;
      chunks.push(rest.subarray(eol + 2, eol + 2 + size));
      pos = eol + 2 + size + 2;
    }
    return closed ? { status, headers, body: Buffer.concat(chunks), incomplete: true } : undefined;
  }
  return closed ? { status, headers, body: rest, incomplete: false } : undefined;
}
