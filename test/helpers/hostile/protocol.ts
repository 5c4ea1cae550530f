import { forgedJwts } from './jwt';
import { json, type Generator, type HostileCase } from './types';

/**
 * Hostile requests below the body: malformed HTTP and header injection attempts, path
 * traversal and SQL injection on the admin API, forged JWTs, odd methods, huge query strings.
 */

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

/** A request written by hand; `lines` are header lines exactly as sent. */
const raw = (start: string, lines: string[], body = '', eol = '\r\n') =>
  Buffer.from(`${start}${eol}host: gateway${eol}connection: close${eol}${lines.map((l) => l + eol).join('')}${eol}${body}`, 'latin1');

export const malformedHttp: Generator = (k) => {
  const auth = `authorization: Bearer ${k.client}`;
  const post = 'POST /v1/chat/completions HTTP/1.1';
  const cases: [string, Buffer | string, number?][] = [
    ['bare CR inside a header value', raw('GET /v1/models HTTP/1.1', ['x-a: a\rinjected: b'])],
    ['bare LF line endings', raw('GET /v1/models HTTP/1.1', ['authorization: Bearer nope'], '', '\n'), 401],
    ['NUL in a header value', raw('GET /v1/models HTTP/1.1', ['x-a: a\x00b']), 400],
    ['NUL in a header name', raw('GET /v1/models HTTP/1.1', ['x-\x00a: b']), 400],
    ['space in a header name', raw('GET /v1/models HTTP/1.1', ['x a: b']), 400],
    ['header line without a colon', raw('GET /v1/models HTTP/1.1', ['justtext']), 400],
    ['empty header name', raw('GET /v1/models HTTP/1.1', [': value']), 400],
    ['obsolete line folding', raw('GET /v1/models HTTP/1.1', ['x-a: a', ' folded: b'])],
    ['separator in a header name', raw('GET /v1/models HTTP/1.1', ['x(a): b']), 400],
    ['DEL in a header value', raw('GET /v1/models HTTP/1.1', ['x-a: a\x7fb'])],
    ['tab in a header name', raw('GET /v1/models HTTP/1.1', ['x\ta: b']), 400],
    ['conflicting content-lengths', raw(post, [auth, 'content-type: application/json', 'content-length: 2', 'content-length: 3'], '{}x'), 400],
    ['content-length +2', raw(post, [auth, 'content-length: +2'], '{}'), 400],
    ['content-length -1', raw(post, [auth, 'content-length: -1'], '{}'), 400],
    ['content-length abc', raw(post, [auth, 'content-length: abc'], '{}'), 400],
    ['content-length list', raw(post, [auth, 'content-length: 5, 5'], '{}xyz'), 400],
    ['transfer-encoding and content-length (smuggling)', raw(post, [auth, 'content-length: 4', 'transfer-encoding: chunked'], '0\r\n\r\n'), 400],
    ['transfer-encoding gzip', raw(post, [auth, 'transfer-encoding: gzip'], ''), 400],
    ['transfer-encoding chunked, identity', raw(post, [auth, 'transfer-encoding: chunked, identity'], '0\r\n\r\n'), 400],
    ['transfer-encoding xchunked', raw(post, [auth, 'transfer-encoding: xchunked'], '0\r\n\r\n'), 400],
    ['transfer-encoding twice', raw(post, [auth, 'transfer-encoding: chunked', 'transfer-encoding: chunked'], '0\r\n\r\n')],
    ['chunk size not hex', raw(post, [auth, 'transfer-encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n'), 400],
    ['chunk extension with control bytes', raw(post, [auth, 'transfer-encoding: chunked'], '2;ext=\x01\r\n{}\r\n0\r\n\r\n')],
    ['two host headers', raw('GET /v1/models HTTP/1.1', ['host: other'])],
    ['host with a space', Buffer.from('GET /v1/models HTTP/1.1\r\nhost: a b\r\nconnection: close\r\n\r\n')],
    ['absolute URI naming another host', raw('GET http://evil.example/v1/keys HTTP/1.1', []), 401],
    ['HTTP/1.0', Buffer.from('GET /v1/models HTTP/1.0\r\n\r\n'), 426],
    ['HTTP/9.9', raw('GET /v1/models HTTP/9.9', []), 426],
    ['garbage request line', Buffer.from('\x00\x01\x02 garbage\r\n\r\n'), 400],
    ['lower-case method', raw('post /v1/chat/completions HTTP/1.1', [auth], ''), 400],
    ['target without a leading slash', raw('GET v1/models HTTP/1.1', [auth]), 400],
    ['unknown method FOO', raw('FOO /v1/chat/completions HTTP/1.1', [auth]), 400],
    ['method with separators', raw('G(T /v1/models HTTP/1.1', [auth]), 400],
    ['raw 0xff in the path', raw('GET /v1/models/\xff HTTP/1.1', [auth]), 400],
    ['raw space in the path', raw('GET /v1/mod els HTTP/1.1', [auth]), 400],
    ['header name of 10 KB', raw('GET /v1/models HTTP/1.1', [`x-${'a'.repeat(10000)}: b`])],
    // Slow or stalled bodies end with the stream idle timeout (2 s in the corpus gateway).
    ['body shorter than its content-length', raw(post, [auth, 'content-type: application/json', 'content-length: 100'], '{"model":'), 408],
    ['chunked body never finished', raw(post, [auth, 'content-type: application/json', 'transfer-encoding: chunked'], '9\r\n{"model":\r\n'), 408],
  ];
  const headerCases: [string, Record<string, string>, number][] = [
    ['forged x-forwarded-client-cert without a key', { 'x-forwarded-client-cert': 'By=spiffe://corp/gw;URI=spiffe://corp/admin;Subject="CN=admin"' }, 401],
    ['x-gateway-cluster pointing at the admin API, no key', { 'x-gateway-cluster': 'gateway_admin' }, 401],
    ['x-gateway-cluster with a bad body', { 'x-gateway-cluster': 'gateway_admin', authorization: `Bearer ${k.client}` }, 400],
    ['x-envoy-original-path, no key', { 'x-envoy-original-path': '/v1/keys' }, 401],
    ['x-envoy-upstream-rq-timeout-ms with a bad body', { 'x-envoy-upstream-rq-timeout-ms': '1', 'x-envoy-retry-on': '5xx', authorization: `Bearer ${k.client}` }, 400],
    ['Bearer without a token', { authorization: 'Bearer' }, 401],
    ['Bearer and a space', { authorization: 'Bearer ' }, 401],
    ['Basic credentials', { authorization: 'Basic YWRtaW46YWRtaW4=' }, 401],
    ['Bearer with two tokens', { authorization: `Bearer ${k.client} extra` }, 401],
    ['junk authorization beside a valid x-api-key', { authorization: 'Token nope', 'x-api-key': k.client }, 401],
    ['empty x-api-key', { 'x-api-key': '' }, 401],
    ['api-key of spaces', { 'api-key': '     ' }, 401],
    ['text/html with broken JSON', { 'content-type': 'text/html', authorization: `Bearer ${k.client}` }, 400],
    ['expect 100-continue with broken JSON', { expect: '100-continue', authorization: `Bearer ${k.client}` }, 400],
    ['upgrade websocket with broken JSON', { upgrade: 'websocket', connection: 'upgrade', authorization: `Bearer ${k.client}` }, 403],
    ['x-request-id with markup', { 'x-request-id': '"><script>alert(1)</script>' }, 401],
  ];
  return [
    ...cases.map(([name, bytes, status]): HostileCase => ({ group: 'malformed HTTP and header injection', name, request: { raw: bytes }, status })),
    ...headerCases.map(([name, headers, status]): HostileCase => ({
      group: 'malformed HTTP and header injection',
      name,
      request: { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...headers }, body: '{"model":' },
      status,
    })),
    {
      group: 'malformed HTTP and header injection',
      name: 'two authorization headers on the admin API (junk first)',
      request: { raw: raw('GET /v1/keys HTTP/1.1', ['authorization: Bearer junk', `authorization: Bearer ${k.admin}`]) },
      status: 401,
    },
    {
      group: 'malformed HTTP and header injection',
      name: 'two authorization headers on chat',
      request: { raw: raw(post, [`authorization: Bearer ${k.client}`, 'authorization: Bearer junk', 'content-type: application/json', `content-length: ${CHAT.length}`], CHAT) },
      status: 401,
    },
  ];
};

export const pathTraversal: Generator = (k) => {
  const paths: [string, number?][] = [
    ['/v1/keys/..%2F..%2Fetc%2Fpasswd', 404],
    ['/v1/keys/../../etc/passwd', 400],
    ['/v1/keys/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/v1/keys/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', 404],
    ['/v1/keys/..%5c..%5cwindows%5cwin.ini', 404],
    ['/v1/keys/%252e%252e%252fetc%252fpasswd', 404],
    ['/v1/keys/....//....//etc/passwd'],
    ['/v1/keys/.%2e/.%2e/health', 400],
    ['/v1/keys/%2e%2e/%2e%2e/metrics', 400],
    ['/v1/keys/../usage', 400],
    ['/v1/keys/./', 400],
    ['/v1/keys/%00', 404],
    ['/v1/keys/%', 404],
    ['/v1/keys/%ZZ', 404],
    ['/v1/keys/x%0d%0aSet-Cookie:%20a=b', 404],
    ['/v1/keys/%c0%ae%c0%ae%c0%af', 404],
    ['/v1/providers/..%2F..%2Fetc%2Fpasswd', 404],
    ['/v1/providers/../keys', 400],
    ['/v1/usage/../keys', 400],
    ['/v1/chat/completions/../../v1/keys', 400],
    ['/health/..', 400],
    // model-router answers GET only: DELETE is a 405 before any lookup.
    ['/v1/models/..%2F..%2Fkeys'],
    ['/v1/models/%2e%2e', 400],
    ['/v1/langchain/../keys', 400],
    ...(k.audit ? ([['/v1/audit/../keys', 400], ['/v1/audit/..%2F..%2Fetc%2Fpasswd']] as [string, number?][]) : []),
  ];
  return paths.flatMap(([path, status]) =>
    ['GET', 'DELETE'].map((method): HostileCase => ({ group: 'path traversal', name: `${method} ${path}`, request: { method, path, headers: json(k.admin) }, status })),
  );
};

const SQL = [
  "' OR '1'='1",
  "1; DROP TABLE virtual_keys; --",
  '" OR ""="',
  "') OR ('1'='1",
  "1 UNION SELECT key_hash FROM virtual_keys--",
  "admin'--",
  "1' AND SLEEP(5)--",
  "'; SELECT pg_sleep(5);--",
  "\\' OR 1=1 #",
  "day' UNION SELECT * FROM providers--",
  "%27%20OR%201%3D1--",
  "1) OR 1=1; ATTACH DATABASE '/tmp/x.db' AS x;--",
];

export const sqlInjection: Generator = (k) => {
  const q = (s: string) => encodeURIComponent(s);
  const get = (path: string, key = k.admin) => ({ path, headers: json(key) });
  return SQL.flatMap((p): HostileCase[] => {
    const cases: Omit<HostileCase, 'group'>[] = [
      { name: `usage group_by=${p}`, request: get(`/v1/usage?group_by=${q(p)}`), status: 400 },
      { name: `usage start=${p}`, request: get(`/v1/usage?start=${q(p)}`), status: 400 },
      { name: `usage end=${p}`, request: get(`/v1/usage?start=2026-01-01&end=${q(p)}`), status: 400 },
      // Free-text filters: the payload is a value that matches nothing.
      { name: `usage key_id=${p}`, request: get(`/v1/usage?key_id=${q(p)}&group_by=key`), emptyList: true },
      { name: `usage team=${p}`, request: get(`/v1/usage?team=${q(p)}&group_by=team`), emptyList: true },
      { name: `keys team=${p}`, request: get(`/v1/keys?team=${q(p)}`), emptyList: true },
      { name: `key id ${p}`, request: get(`/v1/keys/${q(p)}`), status: 404 },
      { name: `provider name ${p}`, request: get(`/v1/providers/${q(p)}`), status: 404 },
      { name: `usage group_by=${p} without a key`, request: { path: `/v1/usage?group_by=${q(p)}` }, status: 401 },
    ];
    if (k.audit) {
      cases.push(
        { name: `audit action=${p}`, request: get(`/v1/audit?action=${q(p)}`), emptyListOr4xx: true },
        { name: `audit start=${p}`, request: get(`/v1/audit?start=${q(p)}`), status: 400 },
      );
    }
    return cases.map((c) => ({ group: 'SQL injection in admin parameters', ...c }));
  });
};

export const forgedJwtCases: Generator = (k) => {
  const targets: [string, string, string | undefined][] = [
    ['GET', '/v1/keys', undefined],
    ['POST', '/v1/keys', '{"user":"mallory","roles":["admin"]}'],
    ['GET', '/v1/usage', undefined],
    ['POST', '/v1/chat/completions', CHAT],
    ...(k.securityConfig ? ([['GET', '/v1/security/config', undefined]] as [string, string, string | undefined][]) : []),
    ...(k.audit ? ([['GET', '/v1/audit', undefined]] as [string, string, string | undefined][]) : []),
  ];
  return forgedJwts().flatMap(([name, token]) =>
    targets.map(([method, path, body]): HostileCase => ({
      group: 'forged JWTs',
      name: `${method} ${path}: ${name}`,
      request: { method, path, headers: json(undefined, { authorization: `Bearer ${token}` }), body },
      status: 401,
    })),
  );
};

export const oddMethods: Generator = (k) => {
  const llm = ['/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/responses'];
  const admin = ['/v1/keys', '/v1/usage', '/health', '/metrics'];
  const methods = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'PURGE', 'M-SEARCH', 'BREW'];
  const cases: HostileCase[] = [];
  for (const method of methods) {
    for (const path of llm) cases.push({ group: 'odd methods', name: `${method} ${path}`, request: { method, path: method === 'CONNECT' ? 'gateway:443' : path, headers: json(k.client) }, head: method === 'HEAD' });
    // GET and HEAD are the admin API's own methods; the others must be refused.
    if (method === 'GET' || method === 'HEAD' || method === 'CONNECT') continue;
    for (const path of admin) cases.push({ group: 'odd methods', name: `${method} ${path}`, request: { method, path, headers: json(k.admin) } });
  }
  return cases;
};

export const hugeQueries: Generator = (k) =>
  [
    { name: 'chat with 20,000 query parameters', request: { method: 'POST', path: `/v1/chat/completions?${'a=1&'.repeat(20000)}`, headers: json(k.client), body: '{' }, status: 431 },
    { name: 'usage start of 50,000 digits', request: { path: `/v1/usage?start=${'9'.repeat(50000)}`, headers: json(k.admin) }, status: 400 },
    { name: 'usage group_by of 40,000 characters', request: { path: `/v1/usage?group_by=${'x'.repeat(40000)}`, headers: json(k.admin) }, status: 400 },
    { name: 'usage with 5,000 parameters and a bad group_by', request: { path: `/v1/usage?${'a=1&'.repeat(5000)}group_by=bogus`, headers: json(k.admin) }, status: 400 },
    { name: 'usage group_by of invalid UTF-8 escapes', request: { path: '/v1/usage?group_by=%ff%fe', headers: json(k.admin) }, status: 400 },
    { name: 'usage start of a NUL', request: { path: '/v1/usage?start=%00', headers: json(k.admin) }, status: 400 },
    { name: 'usage end before start', request: { path: '/v1/usage?start=2026-12-01&end=2026-01-01', headers: json(k.admin) }, status: 400 },
    { name: 'usage start beyond year 9999', request: { path: '/v1/usage?start=99999-01-01', headers: json(k.admin) }, status: 400 },
    { name: 'usage start of a month 13', request: { path: '/v1/usage?start=2026-13-45', headers: json(k.admin) }, status: 400 },
    { name: 'model id of invalid escapes', request: { path: '/v1/models/%E0%A4%A', headers: json(k.client) }, status: 404 },
    { name: 'keys team of 40,000 characters', request: { path: `/v1/keys?team=${'x'.repeat(40000)}`, headers: json(k.admin) }, emptyList: true },
  ].map((c) => ({ group: 'huge and odd query strings', ...c }));
