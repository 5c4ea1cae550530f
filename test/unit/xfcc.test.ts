import { findIdentityRule, identityMatches } from '../../src/identity/config';
import { currentElement, identityOf, parseXfcc, XfccError } from '../../src/identity/xfcc';

/** The x-forwarded-client-cert parser and how an identity is picked from it. */

const SPIFFE = 'spiffe://example.org/agent/a';

describe('parseXfcc', () => {
  test.each<[string, string, [string, string][][]]>([
    ['an empty header', '', []],
    ['one pair', `URI=${SPIFFE}`, [[['uri', SPIFFE]]]],
    [
      "Envoy's own element",
      `By=spiffe://gw;Hash=ab12;Subject="CN=a,O=Example";URI=${SPIFFE};DNS=a.local`,
      [[['by', 'spiffe://gw'], ['hash', 'ab12'], ['subject', 'CN=a,O=Example'], ['uri', SPIFFE], ['dns', 'a.local']]],
    ],
    ['keys are case-insensitive', `uri=${SPIFFE};SUBJECT=x`, [[['uri', SPIFFE], ['subject', 'x']]]],
    ['escaped quotes inside a quoted value', 'Subject="CN=\\"quoted\\",O=x;y"', [[['subject', 'CN="quoted",O=x;y']]]],
    ['a backslash escapes itself', 'Subject="a\\\\b"', [[['subject', 'a\\b']]]],
    ['= inside an unquoted value after the first', 'Subject=CN=a', [[['subject', 'CN=a']]]],
    ['several elements, comma separated', 'URI=spiffe://one,URI=spiffe://two;DNS=b', [[['uri', 'spiffe://one']], [['uri', 'spiffe://two'], ['dns', 'b']]]],
    ['a comma inside quotes does not split elements', 'Subject="a,b";URI=spiffe://x,URI=spiffe://y', [[['subject', 'a,b'], ['uri', 'spiffe://x']], [['uri', 'spiffe://y']]]],
    ['whitespace around pairs and elements is ignored', ' URI = spiffe://x ; DNS=a , DNS=b ', [[['uri', 'spiffe://x'], ['dns', 'a']], [['dns', 'b']]]],
    ['whitespace inside quotes is kept', 'Subject=" CN=a "', [[['subject', ' CN=a ']]]],
    ['empty values (Envoy writes URI= when there is no URI SAN)', 'URI=;DNS=a', [[['uri', ''], ['dns', 'a']]]],
    ['an empty trailing element counts as an element', 'URI=spiffe://x,', [[['uri', 'spiffe://x']], []]],
    ['repeated keys are all kept', 'DNS=a;DNS=b;URI=u:1;URI=u:2', [[['dns', 'a'], ['dns', 'b'], ['uri', 'u:1'], ['uri', 'u:2']]]],
  ])('%s', (_name, header, expected) => {
    expect(parseXfcc(header).map((e) => e.pairs)).toEqual(expected);
  });

  test.each([
    ['an unterminated quote', 'Subject="CN=a;URI=spiffe://x'],
    ['a pair without =', 'URI=spiffe://x;garbage'],
    ['a pair without a key', '=value'],
  ])('%s is an error', (_name, header) => {
    expect(() => parseXfcc(header)).toThrow(XfccError);
  });

  test('the element accessors collect by, uri and dns and take the first subject and hash', () => {
    const [el] = parseXfcc('By=spiffe://gw;By=spiffe://gw2;Hash=h;Subject="CN=a";URI=u:1;URI=u:2;DNS=d');
    expect(el).toMatchObject({ by: ['spiffe://gw', 'spiffe://gw2'], hash: 'h', subject: 'CN=a', uri: ['u:1', 'u:2'], dns: ['d'] });
  });
});

describe('identity', () => {
  test.each<[string, string, ReturnType<typeof identityOf>]>([
    ['URI SAN first', `Subject="CN=a";URI=${SPIFFE};DNS=a.local`, { identity: SPIFFE, source: 'uri' }],
    ['DNS SAN without a URI SAN', 'Subject="CN=a";URI=;DNS=a.local', { identity: 'a.local', source: 'dns' }],
    ['subject without SANs', 'Subject="CN=a,O=x";URI=;DNS=', { identity: 'CN=a,O=x', source: 'subject' }],
    ['nothing usable', 'Hash=abc;URI=', undefined],
    ['only the last element counts (the hop the gateway added)', `URI=spiffe://forged/admin,URI=${SPIFFE}`, { identity: SPIFFE, source: 'uri' }],
    ['a forged earlier element cannot fill in a missing one', 'URI=spiffe://forged/admin,Hash=abc', undefined],
    ['the first URI SAN of several', 'URI=spiffe://one;URI=spiffe://two', { identity: 'spiffe://one', source: 'uri' }],
  ])('%s', (_name, header, expected) => {
    expect(identityOf(currentElement(header))).toEqual(expected);
  });

  test('no header, no identity', () => {
    expect(identityOf(currentElement(''))).toBeUndefined();
  });
});

describe('identity rules', () => {
  test.each([
    ['spiffe://example.org/agent/*', SPIFFE, true],
    ['spiffe://example.org/agent/*', 'spiffe://example.org/agents', false],
    ['spiffe://example.org/*', SPIFFE, true],
    [SPIFFE, SPIFFE, true],
    [SPIFFE, `${SPIFFE}b`, false],
    ['*', 'anything', true],
  ])('%s matches %s: %s', (pattern, identity, expected) => {
    expect(identityMatches(pattern, identity)).toBe(expected);
  });

  test('the first matching rule wins', () => {
    const rules = [{ match: 'spiffe://example.org/agent/a', id: 'exact' }, { match: 'spiffe://example.org/agent/*', id: 'pattern' }];
    expect(findIdentityRule(rules, SPIFFE)?.id).toBe('exact');
    expect(findIdentityRule(rules, 'spiffe://example.org/agent/b')?.id).toBe('pattern');
    expect(findIdentityRule(rules, 'spiffe://other.org/agent/a')).toBeUndefined();
  });
});
