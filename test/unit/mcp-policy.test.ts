import { globMatches } from '../../src/domain/glob';
import { accessFor, ruleApplies, type McpCaller } from '../../src/mcp/policy';
import type { McpAccessRule } from '../../src/mcp/config';

const rule = (r: Partial<McpAccessRule>): McpAccessRule => ({ servers: ['*'], tools: ['*'], ...r });
const key = (id: string, team?: string): McpCaller => ({ id, kind: 'api_key', team });
const agent = (identity: string, team?: string): McpCaller => ({ id: identity, kind: 'mtls', identity, team });

describe('MCP access policy', () => {
  test('globs: * matches any run, everything else is literal', () => {
    expect(globMatches('weather__*', 'weather__forecast')).toBe(true);
    expect(globMatches('*__read_*', 'files__read_file')).toBe(true);
    expect(globMatches('files__read_*', 'files__delete_file')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
    expect(globMatches('(x)+', '(x)+')).toBe(true);
    expect(globMatches('spiffe://example.org/agent/*', 'spiffe://example.org/agent/a/b')).toBe(true);
  });

  test('a rule applies to the keys, teams or identities it names, or to everyone when it names none', () => {
    expect(ruleApplies(rule({}), key('k1'))).toBe(true);
    expect(ruleApplies(rule({ keys: ['k1'] }), key('k1'))).toBe(true);
    expect(ruleApplies(rule({ keys: ['k1'] }), key('k2'))).toBe(false);
    expect(ruleApplies(rule({ teams: ['qa'] }), key('k2', 'qa'))).toBe(true);
    expect(ruleApplies(rule({ teams: ['qa'] }), key('k2'))).toBe(false);
    expect(ruleApplies(rule({ identities: ['spiffe://x/*'] }), agent('spiffe://x/a'))).toBe(true);
    // A key pattern never covers a certificate identity, and the reverse.
    expect(ruleApplies(rule({ keys: ['spiffe://x/*'] }), agent('spiffe://x/a'))).toBe(false);
    expect(ruleApplies(rule({ identities: ['k*'] }), key('k1'))).toBe(false);
  });

  test('no rules: everything; with rules: the union of the applicable ones, tools matched on the namespaced name', () => {
    const open = accessFor([], key('k'));
    expect(open.server('any')).toBe(true);
    expect(open.tool('any', 'any__thing')).toBe(true);
    const rules = [rule({ teams: ['qa'], servers: ['weather', 'files'], tools: ['weather__*', 'files__read_*'] }), rule({ keys: ['k9'], servers: ['files'], tools: ['files__delete_file'] })];
    const qa = accessFor(rules, key('k1', 'qa'));
    expect(qa.server('files')).toBe(true);
    expect(qa.server('github')).toBe(false);
    expect(qa.tool('files', 'files__read_file')).toBe(true);
    expect(qa.tool('files', 'files__delete_file')).toBe(false);
    const both = accessFor(rules, key('k9', 'qa'));
    expect(both.tool('files', 'files__delete_file')).toBe(true);
    const stranger = accessFor(rules, key('k3', 'ops'));
    expect(stranger.server('weather')).toBe(false);
    expect(stranger.tool('weather', 'weather__forecast')).toBe(false);
    // A tool pattern naming another server's tool does not open it on this one.
    const odd = accessFor([rule({ servers: ['files'], tools: ['weather__*'] })], key('k'));
    expect(odd.tool('weather', 'weather__forecast')).toBe(false);
  });
});
