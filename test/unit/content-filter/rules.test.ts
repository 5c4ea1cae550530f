import { compileFilters, FilterCache, parseContentFilters, DEFAULT_REQUEST_PATHS } from '../../../plugins/content-filter/engine';
import { SettingsService } from '../../../src/security/settings';
import type { SecuritySettings } from '../../../src/domain';

const LIMITS = { maxPatternLength: 100 };
const rule = (extra: Record<string, unknown> = {}) => ({ name: 'r1', detectors: ['pii'], action: 'redact', ...extra });
const sets = (...rules: unknown[]) => [{ name: 'base', rules }];

describe('rule validation names the bad setting', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['not a list', { name: 'x' }, 'content_filters', /list of rule sets/],
    ['rule set not an object', ['x'], 'content_filters[0]', /object/],
    ['rule set without a name', [{ rules: [] }], 'content_filters[0].name', /letters, digits/],
    ['unknown rule set key', [{ name: 's', rules: [], colour: 1 }], 'content_filters[0].colour', /unknown key/],
    ['rules not a list', [{ name: 's', rules: {} }], 'content_filters[0].rules', /list of rules/],
    ['rule without action', sets({ name: 'r', detectors: ['pii'] }), 'content_filters[0].rules[0].action', /required/],
    ['bad action', sets(rule({ action: 'delete' })), 'content_filters[0].rules[0].action', /block, redact, flag/],
    ['bad target', sets(rule({ target: 'upstream' })), 'content_filters[0].rules[0].target', /request, response, both/],
    ['rule name with spaces', sets(rule({ name: 'my rule' })), 'content_filters[0].rules[0].name', /letters/],
    ['unknown rule key', sets(rule({ paths_: [] })), 'content_filters[0].rules[0].paths_', /unknown key/],
    ['no detector', sets({ name: 'r', action: 'flag' }), 'content_filters[0].rules[0].detectors', /at least one detector/],
    ['unknown built-in', sets(rule({ detectors: ['pii', 'dna'] })), 'content_filters[0].rules[0].detectors[1]', /one of regex, keywords/],
    ['unknown detector type', sets(rule({ detectors: [{ type: 'magic' }] })), 'content_filters[0].rules[0].detectors[0].type', /one of/],
    ['unknown detector key', sets(rule({ detectors: [{ type: 'pii', pattern: 'x' }] })), 'content_filters[0].rules[0].detectors[0].pattern', /unknown key/],
    ['bad pii kind', sets(rule({ detectors: [{ type: 'pii', kinds: ['email', 'dna'] }] })), 'content_filters[0].rules[0].detectors[0].kinds[1]', /email, phone/],
    ['bad secrets kind', sets(rule({ detectors: [{ type: 'secrets', kinds: [] }] })), 'content_filters[0].rules[0].detectors[0].kinds', /non-empty/],
    ['regex without pattern', sets(rule({ detectors: [{ type: 'regex' }] })), 'content_filters[0].rules[0].detectors[0].pattern', /required/],
    ['invalid regex', sets(rule({ detectors: [{ type: 'regex', pattern: 'a(b' }] })), 'content_filters[0].rules[0].detectors[0].pattern', /not a valid regular expression/],
    ['lookbehind (not linear)', sets(rule({ detectors: [{ type: 'regex', pattern: '(?<=a)b' }] })), 'content_filters[0].rules[0].detectors[0].pattern', /RE2/],
    ['backreference (not linear)', sets(rule({ detectors: [{ type: 'regex', pattern: '(a)\\1' }] })), 'content_filters[0].rules[0].detectors[0].pattern', /RE2/],
    ['pattern too long', sets(rule({ detectors: [{ type: 'regex', pattern: 'a'.repeat(101) }] })), 'content_filters[0].rules[0].detectors[0].pattern', /longer than the 100/],
    ['bad flags', sets(rule({ detectors: [{ type: 'regex', pattern: 'a', flags: 'gy' }] })), 'content_filters[0].rules[0].detectors[0].flags', /i, m, s and u/],
    ['shorthand pattern invalid', [{ name: 's', rules: [] }, { name: 't', rules: [{ name: 'r', pattern: '(', action: 'block' }] }], 'content_filters[1].rules[0].pattern', /regular expression/],
    ['flags without pattern', sets(rule({ flags: 'i' })), 'content_filters[0].rules[0].flags', /together with `pattern`/],
    ['empty keyword', sets(rule({ detectors: [{ type: 'keywords', words: ['ok', ' '] }] })), 'content_filters[0].rules[0].detectors[0].words[1]', /non-empty/],
    ['keywords shorthand not a list', sets(rule({ keywords: 'x' })), 'content_filters[0].rules[0].keywords', /list of 1 to/],
    ['path not JSONPath', sets(rule({ paths: ['messages[0]'] })), 'content_filters[0].rules[0].paths[0]', /starting with `\$`/],
    ['path that throws', sets(rule({ paths: ['$.messages', '$[(@.length-1)]'] })), 'content_filters[0].rules[0].paths[1]', /not a usable JSONPath/],
    ['mask not a string', sets(rule({ mask: 3 })), 'content_filters[0].rules[0].mask', /string/],
    ['duplicate rule names across sets', [{ name: 'a', rules: [rule()] }, { name: 'b', rules: [rule()] }], 'content_filters[1].rules[0].name', /duplicate rule name `r1`/],
  ];
  test.each(cases)('%s', (_d, value, param, message) => {
    const r = parseContentFilters(value, LIMITS);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem.param).toBe(param);
      expect(r.problem.message).toMatch(message);
    }
  });
});

describe('valid rule sets', () => {
  test('are normalised: target both, default paths, shorthands become detectors', () => {
    const r = parseContentFilters(
      [{ name: 's', rules: [{ name: 'r', pattern: 'x+', flags: 'i', keywords: ['y'], detectors: [{ type: 'pii', kinds: ['email'] }], action: 'flag' }] }],
      LIMITS,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [parsed] = r.sets[0]!.rules;
    expect(parsed!.target).toBe('both');
    expect(parsed!.paths).toBeUndefined();
    expect(parsed!.detectors.map((d) => d.type)).toEqual(['pii', 'regex', 'keywords']);
    expect(parsed!.compiled).toHaveLength(3);
  });

  test('compile splits rules by direction, skips disabled sets, applies default paths', () => {
    const c = compileFilters(
      [
        { name: 'on', rules: [rule({ name: 'in', target: 'request' }), rule({ name: 'out', target: 'response' }), rule({ name: 'both' })] },
        { name: 'off', enabled: false, rules: [rule({ name: 'never' })] },
      ],
      LIMITS,
    );
    if (!c.ok) throw new Error(c.problem.message);
    expect(c.filters.request.map((r) => r.name)).toEqual(['in', 'both']);
    expect(c.filters.response.map((r) => r.name)).toEqual(['out', 'both']);
    expect(c.filters.request[0]!.requestPaths).toEqual(DEFAULT_REQUEST_PATHS);
    expect(c.filters.request[0]!.mask('email')).toBe('[REDACTED:email]');
  });

  test('masks: fixed text or a {detector} placeholder', () => {
    const c = compileFilters(sets(rule({ name: 'a', mask: '***' }), rule({ name: 'b', mask: '<{detector}>' })), LIMITS);
    if (!c.ok) throw new Error(c.problem.message);
    expect(c.filters.request.map((r) => r.mask('phone'))).toEqual(['***', '<phone>']);
  });
});

describe('settings integration', () => {
  const settings = (content_filters: unknown[], enabled = true): SecuritySettings => ({
    content_filtering_enabled: enabled,
    audit_logging_enabled: true,
    data_isolation_enabled: false,
    content_filters: content_filters as SecuritySettings['content_filters'],
  });

  test('the cache compiles once per settings object and again after a change', () => {
    const service = new SettingsService(settings(sets(rule())));
    const cache = new FilterCache(LIMITS);
    service.addValidator((s) => cache.validate(s));
    const first = cache.get(service.current());
    expect(cache.get(service.current())).toBe(first);
    expect(service.replace(settings(sets(rule({ name: 'other' }))))).toBeUndefined();
    const second = cache.get(service.current());
    expect(second).not.toBe(first);
    expect(second.request[0]!.name).toBe('other');
  });

  test('a bad rule is refused through the settings service, naming it', () => {
    const service = new SettingsService(settings([]));
    const cache = new FilterCache(LIMITS);
    service.addValidator((s) => cache.validate(s));
    const problem = service.replace(settings([{ name: 's', rules: [rule({ detectors: [{ type: 'regex', pattern: '[' }] })] }]));
    expect(problem?.param).toBe('content_filters[0].rules[0].detectors[0].pattern');
    expect(service.current().content_filters).toEqual([]);
  });
});
