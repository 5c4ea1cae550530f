import { ConfigError, parseConfig } from '../../src/config/load';
import { baseUrlProblem } from '../../src/providers/base-url';

/** Provider base URLs that pass the schemas' shape check but cannot be used are named, not thrown on later. */

test.each([
  ['http://127.0.0.1:99999/v1', /port 99999, outside 1-65535/],
  ['http://api.example.com:0/v1', /port 0/],
  ['http://api.example.com:8x/v1', /invalid port "8x"/],
  ['http://[::1/v1', /unclosed IPv6 address/],
  ['http://api%zz.example.com/v1', /percent escape "%zz"/],
  ['https://api.example.com/v1/%', /percent escape "%"/],
  ['http://user:secret@api.example.com/v1', /must not carry credentials/],
  ['http://[zz]/v1', /not a valid URL/],
])('%s is refused: %s', (url, reason) => {
  expect(baseUrlProblem(url)).toMatch(reason);
});

test.each(['https://api.openai.com/v1', 'http://127.0.0.1:9004/v1', 'http://[::1]:8000/v1', 'http://vllm:8000', 'https://h.example.com/a%2Fb/v1', 'http://h.example.com:/v1'])(
  '%s is accepted',
  (url) => {
    expect(baseUrlProblem(url)).toBeUndefined();
  },
);

test('gateway.yaml: every bad base_url is a problem naming its key, with no secret echoed', () => {
  const providers = [
    { name: 'ok', type: 'openai', base_url: 'https://api.openai.com/v1' },
    { name: 'port', type: 'openai', base_url: 'http://127.0.0.1:99999/v1' },
    { name: 'creds', type: 'openai', base_url: 'http://user:hunter2@h.example.com/v1' },
  ];
  let err: unknown;
  try {
    parseConfig({ providers }, '/tmp');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems).toEqual([
    'providers[1].base_url: has port 99999, outside 1-65535',
    'providers[2].base_url: must not carry credentials (user:password@); give the key as api_key or api_key_env',
  ]);
  expect((err as ConfigError).message).not.toContain('hunter2');
});
