import { mcpProblems } from '../../src/mcp/config';
import type { McpConfig } from '../../src/mcp/config';

/** The MCP section's checks beyond its schema (src/config/load.ts reports them at start). */
const server = (name: string, url: string) => ({ name, url, transport: 'streamable-http' as const, headers: {}, credential_header: 'authorization', timeout_seconds: 60 });
const config = (servers: ReturnType<typeof server>[]) => ({ servers } as unknown as McpConfig);

test.each([
  ['https://user:secret@mcp.example.com/mcp', /^mcp\.servers\[0\]\.url must not carry credentials/],
  ['http://[::1/mcp', /unclosed IPv6/],
  ['http://mcp.example.com:70000/mcp', /outside 1-65535/],
])('a server URL %s is refused', (url, problem) => {
  const problems = mcpProblems(config([server('a', url)]));
  expect(problems).toEqual([expect.stringMatching(problem)]);
  expect(problems.join()).not.toContain('secret');
});

test('usable URLs and distinct names pass; a duplicate name does not', () => {
  expect(mcpProblems(config([server('a', 'https://mcp.example.com/mcp'), server('b', 'http://127.0.0.1:8000/mcp')]))).toEqual([]);
  expect(mcpProblems(config([server('a', 'https://x.example/mcp'), server('a', 'https://y.example/mcp')]))).toEqual(['mcp.servers[1].name: duplicate server "a"']);
});
