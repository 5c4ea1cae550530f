/** `scheme://[userinfo@]host[:port]`: the parts the checks below name before WHATWG parsing. */
const AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:([^@/?#]*)@)?(\[[^\]/?#]*\]?|[^:/?#]*)(?::([^/?#]*))?/;

/**
 * Why `url` cannot be a provider's base URL (or an MCP server's URL), or undefined when it can.
 * The schemas only check its shape; this catches what would fail later (building the Envoy
 * cluster, the upstream `:authority`) with a reason a person can act on. A URL carrying
 * credentials is refused: it would be shown back in admin answers and error messages.
 */
export function baseUrlProblem(url: string, credentialHint = 'give the key as api_key or api_key_env'): string | undefined {
  const m = AUTHORITY.exec(url);
  if (!m) return 'is not an absolute http:// or https:// URL';
  const [, userinfo, host, port] = m;
  if (userinfo !== undefined) return `must not carry credentials (user:password@); ${credentialHint}`;
  if (host.startsWith('[') && !host.endsWith(']')) return `has an unclosed IPv6 address "${host}" (missing "]")`;
  if (port && !/^\d{1,5}$/.test(port)) return `has an invalid port "${port}"`;
  if (port && (Number(port) < 1 || Number(port) > 65535)) return `has port ${Number(port)}, outside 1-65535`;
  const escape = /%(?![0-9A-Fa-f]{2})/.exec(url);
  if (escape) return `has a malformed percent escape "${url.slice(escape.index, escape.index + 3)}" (% must be followed by two hex digits)`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must start with http:// or https://';
  if (!parsed.hostname) return 'has no host';
  return undefined;
}
