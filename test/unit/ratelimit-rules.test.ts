import { ConfigError, parseConfig } from '../../src/config/load';
import { compileRules, type RateLimitRuleConfig } from '../../src/ratelimit/config';
import { matchLimits, parseDescriptor, type DescriptorEntry } from '../../src/ratelimit/descriptors';

/** Rule configuration, descriptor parsing and the matching of descriptors to limits. */

const parse = (raw: unknown) => parseConfig(raw, '/tmp', {});

function problemsOf(raw: unknown): string {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('rate_limits configuration', () => {
  test('defaults: fail_open, 250 ms, no rules, no local limit, no Redis URL', () => {
    expect(parse({}).rate_limits).toEqual({ domain: 'llm-gateway', failure_mode: 'fail_open', timeout_ms: 250, rules: [] });
  });

  test('a full section is accepted', () => {
    const c = parse({
      rate_limits: {
        failure_mode: 'fail_closed',
        timeout_ms: 100,
        redis_url: 'redis://redis:6379/0',
        rules: [
          { name: 'per-key', match: { key: '*' }, requests_per_minute: 60, tokens_per_minute: 100000 },
          { name: 'qa-gpt4o', match: { team: 'qa', model: 'gpt-4o' }, requests_per_day: 1000 },
          { name: 'everyone', tokens_per_day: 5000000 },
        ],
        local: { requests_per_second: 100, burst: 200 },
      },
    });
    expect(c.rate_limits.rules[2].match).toEqual({});
    expect(c.rate_limits.local).toEqual({ requests_per_second: 100, burst: 200 });
  });

  test.each([
    [{ rules: [{ name: 'a', requests_per_minute: 1, requests_per_hour: 2 }] }, 'rate_limits.rules[0]: set one of requests_per_minute, requests_per_hour, not several'],
    [{ rules: [{ name: 'a', tokens_per_minute: 1, tokens_per_day: 2 }] }, 'rate_limits.rules[0]: set one of tokens_per_minute, tokens_per_day'],
    [{ rules: [{ name: 'a', match: { key: '*' } }] }, 'rate_limits.rules[0]: needs a limit'],
    [{ rules: [{ name: 'a', requests_per_day: 1 }, { name: 'a', requests_per_day: 2 }] }, 'rate_limits.rules[1].name: duplicate rule "a"'],
    [{ rules: [{ name: 'quota', requests_per_day: 1 }] }, 'reserved for the per-key quota'],
    [{ rules: [{ name: 'a', match: { tier: 'gold' }, requests_per_day: 1 }] }, 'rate_limits.rules[0].match.tier: unknown key'],
    [{ rules: [{ name: 'a', requests_per_week: 1 }] }, 'rate_limits.rules[0].requests_per_week: unknown key'],
    [{ rules: [{ name: 'a', requests_per_day: -1 }] }, 'rate_limits.rules[0].requests_per_day: must be >= 0'],
    [{ rules: [{ match: {}, requests_per_day: 1 }] }, 'rate_limits.rules[0].name: is required'],
    [{ failure_mode: 'ignore' }, 'rate_limits.failure_mode: must be one of fail_open, fail_closed'],
    [{ timeout_ms: 1 }, 'rate_limits.timeout_ms: must be >= 10'],
    [{ redis_url: 'http://redis' }, 'rate_limits.redis_url: must match pattern'],
    [{ local: { burst: 5 } }, 'rate_limits.local.requests_per_second: is required'],
    [{ local: { requests_per_second: 10, burst: 5 } }, 'rate_limits.local.burst: must be at least requests_per_second'],
  ])('%j is refused: %s', (section, expected) => {
    expect(problemsOf({ rate_limits: section })).toContain(expected);
  });
});

const rules: RateLimitRuleConfig[] = [
  { name: 'per-key', match: { key: '*' }, requests_per_minute: 10, tokens_per_minute: 1000 },
  { name: 'team-qa', match: { team: 'qa' }, requests_per_hour: 100 },
  { name: 'team-model', match: { team: '*', model: 'gpt-4o' }, requests_per_day: 50 },
  { name: 'agent', match: { identity: 'spiffe://corp/agent' }, tokens_per_day: 99 },
  { name: 'global', match: {}, requests_per_second: 500 },
];
const limits = compileRules(rules);

const entries = (kind: string | undefined, dims: Record<string, string> = {}, extra: Record<string, string> = {}): DescriptorEntry[] => [
  ...(kind ? [{ key: 'kind', value: kind }] : []),
  ...Object.entries(dims).map(([key, value]) => ({ key, value })),
  ...Object.entries(extra).map(([key, value]) => ({ key, value })),
];

describe('descriptor matching', () => {
  test('compiled limits: one per limit of each rule', () => {
    expect(limits.map((l) => `${l.rule}/${l.kind}/${l.windowMs}/${l.limit}`)).toEqual([
      'per-key/requests/60000/10',
      'per-key/tokens/60000/1000',
      'team-qa/requests/3600000/100',
      'team-model/requests/86400000/50',
      'agent/tokens/86400000/99',
      'global/requests/1000/500',
    ]);
  });

  test.each([
    ['a key: per-key and global', entries('requests', { key: 'k1' }), ['per-key:requests:60000:key=k1', 'global:requests:1000:']],
    ['another key: its own per-key counter', entries('requests', { key: 'k2' }), ['per-key:requests:60000:key=k2', 'global:requests:1000:']],
    [
      'team qa asking for gpt-4o: exact team, per-team model rule',
      entries('requests', { key: 'k1', team: 'qa', model: 'gpt-4o' }),
      ['per-key:requests:60000:key=k1', 'team-qa:requests:3600000:team=qa', 'team-model:requests:86400000:team=qa&model=gpt-4o', 'global:requests:1000:'],
    ],
    ['team ops asking for gpt-4o-mini: no team rule', entries('requests', { team: 'ops', model: 'gpt-4o-mini' }), ['global:requests:1000:']],
    ['team ops asking for gpt-4o: per-team counter', entries('requests', { team: 'ops', model: 'gpt-4o' }), ['team-model:requests:86400000:team=ops&model=gpt-4o', 'global:requests:1000:']],
    ['tokens of a key', entries('tokens', { key: 'k1', model: 'x' }), ['per-key:tokens:60000:key=k1']],
    ['tokens of the agent identity', entries('tokens', { identity: 'spiffe://corp/agent' }), ['agent:tokens:86400000:identity=spiffe%3A%2F%2Fcorp%2Fagent']],
    ['tokens of another identity', entries('tokens', { identity: 'spiffe://corp/other' }), []],
    ['no kind: nothing', entries(undefined, { key: 'k1' }), []],
    ['an unknown kind: nothing', entries('bytes', { key: 'k1' }), []],
    ['values are escaped in counter ids', entries('requests', { key: 'a&b=c:d' }), ['per-key:requests:60000:key=a%26b%3Dc%3Ad', 'global:requests:1000:']],
    [
      'the quota: its own counter per principal, limit and window from the descriptor',
      entries('requests', {}, { quota: '100/3600', principal: 'key_1' }),
      ['global:requests:1000:', 'quota:requests:3600000:principal=key_1'],
    ],
    ['a quota without a principal is ignored', entries('requests', {}, { quota: '100/3600' }), ['global:requests:1000:']],
    ['a malformed quota is ignored', entries('requests', {}, { quota: 'lots', principal: 'p' }), ['global:requests:1000:']],
    ['the quota is for requests only', entries('tokens', {}, { quota: '100/3600', principal: 'p' }), []],
  ])('%s', (_name, e, counters) => {
    expect(matchLimits(limits, parseDescriptor(e)).map((m) => m.counter)).toEqual(counters);
  });

  test('the quota limit comes from the descriptor', () => {
    const [q] = matchLimits([], parseDescriptor(entries('requests', {}, { quota: '7/60', principal: 'p' })));
    expect(q.limit).toMatchObject({ rule: 'quota', kind: 'requests', limit: 7, windowMs: 60000 });
  });
});
