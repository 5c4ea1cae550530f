import plugin from '../../../plugins/mtls-identity';
import type { PluginHooks } from '../../../src/plugins/api';
import type { Principal } from '../../../src/domain';
import { configure, createPlugin, gatewayError, harness, metricValue, optionProblems, requestContext, type TestHost } from './helpers';

const XFCC = 'x-forwarded-client-cert';
const AGENT_A = 'spiffe://example.org/agent/a';
/** What the gateway's Envoy writes for a verified client certificate. */
const xfcc = (fields: string) => `By=spiffe://gateway;Hash=0a1b2c;${fields}`;

const IDENTITIES = [
  { match: AGENT_A, id: 'agent-a', user: 'ann', team: 'blue', tier: 'langchain', allowed_models: ['gpt-4o*'], allowed_providers: ['openai'], quota_limit: 5 },
  { match: 'spiffe://example.org/batch/*', team: 'batch' },
  { match: 'worker.internal' },
  { match: 'CN=агент-7,O=Пример' },
];

let h: TestHost;
let hooks: PluginHooks;
beforeEach(async () => void ({ h, hooks } = await harness(plugin, {}, { identities: IDENTITIES })));
afterEach(() => h.close());

const results = (result: string) => metricValue(h.metrics, 'mtls_identity_requests_total', { result });

function withCert(header: string | undefined, extra: Record<string, string> = {}, principal?: Principal) {
  return requestContext({ headers: { ...(header === undefined ? {} : { [XFCC]: header }), ...extra }, principal, log: h.log });
}

describe('options', () => {
  test('no identities by default; each rule gets the standard tier unless it says otherwise', () => {
    expect(configure(plugin)).toEqual({ identities: [] });
    expect(configure(plugin, { identities: [{ match: 'a' }, { match: 'b', tier: 'langchain' }] })).toEqual({
      identities: [
        { match: 'a', tier: 'standard' },
        { match: 'b', tier: 'langchain' },
      ],
    });
  });

  test.each([
    ['a rule without match', [{ id: 'x' }], 'plugins[0].options.identities[0].match: is required'],
    ['an empty match', [{ match: '' }], 'plugins[0].options.identities[0].match: must NOT have fewer than 1 characters'],
    ['an unknown tier', [{ match: 'a', tier: 'gold' }], 'plugins[0].options.identities[0].tier: must be one of standard, langchain'],
    ['a negative quota', [{ match: 'a', quota_limit: -1 }], 'plugins[0].options.identities[0].quota_limit: must be >= 0'],
    ['an unknown rule key', [{ match: 'a', roles: ['admin'] }], 'plugins[0].options.identities[0].roles: unknown key'],
    ['an empty allowed model', [{ match: 'a', allowed_models: [''] }], 'plugins[0].options.identities[0].allowed_models[0]: must NOT have fewer than 1 characters'],
    ['__proto__ as a rule key', [JSON.parse('{"match":"a","__proto__":{"tier":"langchain"}}')], expect.stringContaining('identities[0].__proto__: not allowed as a key')],
  ])('refused: %s', (_name, identities, problem) => {
    expect(optionProblems(plugin, { identities })).toEqual([problem]);
  });

  test('identities must be a list', () => {
    expect(optionProblems(plugin, { identities: { match: 'a' } })).toEqual(['plugins[0].options.identities: must be array']);
  });
});

describe('mapping a verified identity', () => {
  test('a matching rule becomes the principal (the core, not the plugin, keeps the header from the provider)', async () => {
    const ctx = withCert(xfcc(`Subject="CN=agent-a,O=Example";URI=${AGENT_A};DNS=a.local`));
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toEqual<Principal>({
      id: 'agent-a',
      kind: 'mtls',
      user: 'ann',
      team: 'blue',
      tier: 'langchain',
      allowedModels: ['gpt-4o*'],
      allowedProviders: ['openai'],
      identity: AGENT_A,
      quotaLimit: 5,
    });
    expect(ctx.requestHeaderEdits.size).toBe(0);
    expect(await results('matched')).toBe(1);
  });

  test('a prefix rule covers every identity below it; the id defaults to the identity', () => {
    const ctx = withCert(xfcc('URI=spiffe://example.org/batch/job-42'));
    hooks.onRequestHeaders!(ctx);
    expect(ctx.principal).toEqual({
      id: 'spiffe://example.org/batch/job-42',
      kind: 'mtls',
      user: undefined,
      team: 'batch',
      tier: 'standard',
      allowedModels: undefined,
      allowedProviders: undefined,
      identity: 'spiffe://example.org/batch/job-42',
      quotaLimit: null,
    });
  });

  test.each([
    ['the URI SAN wins over the DNS SAN and subject', `Subject="CN=x";URI=${AGENT_A};DNS=worker.internal`, 'agent-a'],
    ['the DNS SAN when there is no URI SAN', 'Subject="CN=x";URI=;DNS=worker.internal', 'worker.internal'],
    ['the subject when there is no SAN', 'Subject="CN=агент-7,O=Пример";URI=;DNS=', 'CN=агент-7,O=Пример'],
  ])('%s', (_name, fields, id) => {
    const ctx = withCert(xfcc(fields));
    hooks.onRequestHeaders!(ctx);
    expect(ctx.principal?.id).toBe(id);
  });

  test('only the element the gateway Envoy appended counts, not one a client or earlier hop wrote', async () => {
    const ctx = withCert(`URI=${AGENT_A},${xfcc('URI=spiffe://example.org/stranger')}`);
    const err = await gatewayError(() => hooks.onRequestHeaders!(ctx));
    expect(err.message).toContain('spiffe://example.org/stranger');
    expect(ctx.principal).toBeUndefined();
  });
});

describe('identities without a rule', () => {
  test.each([
    ['an unknown SPIFFE id', 'URI=spiffe://example.org/stranger', 'spiffe://example.org/stranger'],
    ['a near miss of an exact rule', `URI=${AGENT_A}/extra`, `${AGENT_A}/extra`],
    ['__proto__', 'URI=__proto__', '__proto__'],
  ])('%s without a key: 403 identity_not_allowed naming it', async (_name, fields, identity) => {
    const ctx = withCert(xfcc(fields));
    const err = await gatewayError(() => hooks.onRequestHeaders!(ctx));
    expect(err.status).toBe(403);
    expect(err.toBody().error).toEqual({
      code: 'identity_not_allowed',
      type: 'permission_error',
      param: null,
      message: `The client certificate identity ${identity} is not allowed to use this gateway.`,
    });
    expect(ctx.principal).toBeUndefined();
    expect(await results('not_allowed')).toBe(1);
  });

  test.each([
    ['Authorization: Bearer', { authorization: 'Bearer sk-gw-key' }],
    ['X-API-Key', { 'x-api-key': 'sk-gw-key' }],
  ])('with a key in %s, the key decides (no principal, no error)', (_name, headers) => {
    const ctx = withCert(xfcc('URI=spiffe://example.org/stranger'), headers);
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toBeUndefined();
    expect(h.logs.some((l) => l.level >= 40)).toBe(false);
  });

  test('a non-bearer Authorization header is no key', async () => {
    const ctx = withCert(xfcc('URI=spiffe://example.org/stranger'), { authorization: 'Basic dTpw' });
    expect((await gatewayError(() => hooks.onRequestHeaders!(ctx))).code).toBe('identity_not_allowed');
  });

  test('with no rules at all, every certificate needs a key', async () => {
    const none = await createPlugin(plugin, h);
    expect((await gatewayError(() => none.onRequestHeaders!(withCert(xfcc(`URI=${AGENT_A}`))))).code).toBe('identity_not_allowed');
  });
});

describe('requests the plugin leaves alone', () => {
  test('no certificate header: nothing happens, nothing is counted', async () => {
    const ctx = withCert(undefined);
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toBeUndefined();
    expect(await results('unparsable')).toBe(0);
  });

  test.each([
    ['an empty header', ''],
    ['an element carrying no identity', xfcc('URI=;DNS=')],
    ['an unterminated quote', 'URI="spiffe://example.org/agent/a'],
    ['a pair without "="', 'By=spiffe://gateway;garbage'],
  ])('%s: logged (without its value) and counted; the request needs a key', async (_name, header) => {
    const ctx = withCert(header);
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toBeUndefined();
    expect(await results('unparsable')).toBe(1);
    const warnings = h.logs.filter((l) => l.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ msg: 'x-forwarded-client-cert without a usable identity' })]);
    if (header) expect(JSON.stringify(warnings)).not.toContain(header);
  });

  test('an earlier principal stands, and the certificate is not even looked at', async () => {
    const earlier: Principal = { id: 'key_1', kind: 'api_key' };
    const ctx = withCert(xfcc('URI=spiffe://example.org/stranger'), {}, earlier);
    expect(hooks.onRequestHeaders!(ctx)).toBeUndefined();
    expect(ctx.principal).toBe(earlier);
    expect(await results('not_allowed')).toBe(0);
  });
});
