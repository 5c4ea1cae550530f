import { allocatePorts, chat, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { HeaderEdits } from '../../src/core/headers';

/**
 * Client values the processor copies into headers (the model, in x-gateway-served-by) are
 * checked first: a control character is the client's mistake (400 naming the param), never an
 * Envoy header-mutation failure answered with a 5xx.
 */

let gw: RunningGateway;

beforeAll(async () => {
  const ports = await allocatePorts();
  gw = await startGateway({
    ports,
    config: {
      // A pattern, so that any `echo-...` model routes and reaches the response header.
      providers: [{ name: 'echo', type: 'openai-compatible', base_url: `http://127.0.0.1:${ports.echo}/v1`, models: ['echo*'] }],
      plugins: testPlugins(),
    },
  });
}, 60000);

afterAll(async () => {
  await gw?.stop();
});

const CONTROLS = [...Array.from({ length: 32 }, (_, i) => i), 127];

test.each(CONTROLS.map((c) => [`U+${c.toString(16).padStart(4, '0')}`, c]))('a model with %s is refused: 400 invalid_value naming model', async (_name, code) => {
  const res = await chat(gw.url, { model: `echo-${String.fromCharCode(code as number)}x`, messages: [{ role: 'user', content: 'hi' }] });
  const body = await res.json();
  expect([res.status, body.error?.code, body.error?.param]).toEqual([400, 'invalid_value', 'model']);
  expect(body.error.type).toBe('invalid_request_error');
});

test('an overlong model is refused: 400 invalid_value naming model', async () => {
  const res = await chat(gw.url, { model: `echo-${'x'.repeat(5000)}`, messages: [{ role: 'user', content: 'hi' }] });
  const body = await res.json();
  expect([res.status, body.error?.code, body.error?.param]).toEqual([400, 'invalid_value', 'model']);
});

test('printable pattern-matched models still route', async () => {
  const res = await chat(gw.url, { model: 'echo-ok', messages: [{ role: 'user', content: 'hi' }] });
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('x-gateway-served-by')).toBe('echo/echo-ok');
});

test('a plugin setting a header value with a control character fails at the call, naming the header', () => {
  const edits = new HeaderEdits();
  expect(() => edits.set('X-Tag', 'a\r\nb')).toThrow(/x-tag/);
  expect(() => edits.set('x-tag', 'tab\tis fine')).not.toThrow();
  expect(edits.size).toBe(1);
});
