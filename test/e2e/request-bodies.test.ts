import { chat, CLIENT_KEY, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { completion, sendJson, startFakeOpenAI, streamPieces, type FakeOpenAI } from '../helpers/fake-openai';
import { OPENAI_PROJECT_KEY } from '../helpers/secrets';
import { truncationMarker } from '../../src/core/body-capture';

/**
 * logging.bodies, end to end: client → Envoy → processor (content filter redacting) → fake
 * OpenAI. The per-request log line carries the request body as the provider got it (redacted),
 * the response as the client got it (redacted), a stream as its assembled text, error bodies,
 * and each body cut at max_bytes with the marker. Credentials never appear in the logs.
 */

const UPSTREAM_KEY = 'sk-upstream-bodies-0123456789';
const MAX_BYTES = 400;

const RULES = [
  {
    name: 'bodies',
    rules: [
      { name: 'req-redact-secrets', target: 'request', detectors: ['secrets'], action: 'redact' },
      { name: 'both-redact-pii', target: 'both', detectors: ['pii'], action: 'redact' },
    ],
  },
];

let fake: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  gw = await startGateway({
    env: { FAKE_OPENAI_KEY: UPSTREAM_KEY },
    config: {
      providers: [{ name: 'fake', type: 'openai-compatible', base_url: fake.url, api_key_env: 'FAKE_OPENAI_KEY', models: ['gpt-*'] }],
      plugins: testPlugins(),
      security: { content_filtering_enabled: true, content_filters: RULES },
      logging: { level: 'info', bodies: { enabled: true, max_bytes: MAX_BYTES } },
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.close();
});

beforeEach(() => fake.reset());

const ask = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

/** The request log line of the response `res` (found by its x-request-id). */
async function lineOf(res: Response): Promise<Record<string, any>> {
  const id = res.headers.get('x-request-id');
  expect(id).toBeTruthy();
  return waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.request_id === id), 5000);
}

test('buffered, redacted: the request as the provider got it, the answer as the client got it', async () => {
  fake.handle((req, res) => sendJson(res, 200, completion(req.json.model, `Noted: write to carol@example.org.`)));
  const res = await chat(gw.url, ask(`my key is ${OPENAI_PROJECT_KEY}, mail ann@example.org`));
  expect(res.status).toBe(200);
  const answer = await res.text();
  const line = await lineOf(res);
  expect(JSON.parse(line.request_body)).toEqual(ask('my key is [REDACTED:secrets], mail [REDACTED:email]'));
  // Exactly the bytes the client received.
  expect(line.response_body).toBe(answer);
  expect(JSON.parse(answer).choices[0].message.content).toBe('Noted: write to [REDACTED:email].');
  const all = gw.output();
  for (const secret of [OPENAI_PROJECT_KEY, 'ann@example.org', 'carol@example.org', UPSTREAM_KEY, CLIENT_KEY]) expect(all).not.toContain(secret);
});

test('streamed: the assembled text of the deltas, not raw SSE, with the filter’s redactions', async () => {
  fake.handle(streamPieces(['Mail dave@exa', 'mple.org ', 'when ', 'ready.']));
  const res = await chat(gw.url, ask('go', { stream: true }));
  expect(res.status).toBe(200);
  await res.text();
  const line = await lineOf(res);
  expect(line.streamed).toBe(true);
  expect(line.response_body).toBe('Mail [REDACTED:email] when ready.');
  expect(JSON.parse(line.request_body)).toMatchObject(ask('go', { stream: true }));
  expect(gw.output()).not.toContain('dave@exa');
});

test('truncated: each body cut at max_bytes, with the marker giving its full length', async () => {
  const long = 'lorem ipsum '.repeat(100);
  const res = await chat(gw.url, ask(long));
  expect(res.status).toBe(200);
  const answer = await res.text();
  const line = await lineOf(res);
  const sent = fake.requests[0]!.body;
  expect(line.request_body).toBe(sent.slice(0, MAX_BYTES) + truncationMarker(Buffer.byteLength(sent)));
  expect(line.response_body).toBe(answer.slice(0, MAX_BYTES) + truncationMarker(Buffer.byteLength(answer)));

  fake.handle(streamPieces(Array.from({ length: 100 }, () => 'abcdefghij')));
  const streamed = await chat(gw.url, ask('go', { stream: true }));
  await streamed.text();
  expect((await lineOf(streamed)).response_body).toBe('abcdefghij'.repeat(40) + truncationMarker(1000));
});

test('error bodies: the provider’s error as the client got it; a refused request logs no request body', async () => {
  fake.handle((_req, res) => sendJson(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }));
  const limited = await chat(gw.url, ask('hi'));
  expect(limited.status).toBe(429);
  const body = await limited.text();
  expect(await lineOf(limited)).toMatchObject({ status: 429, response_body: body });

  const unauthorized = await chat(gw.url, ask('hi'), { authorization: 'Bearer sk-not-a-key-0123' });
  expect(unauthorized.status).toBe(401);
  const refused = await lineOf(unauthorized);
  expect(refused).not.toHaveProperty('request_body');
  expect(JSON.parse(refused.response_body)).toMatchObject({ error: { code: 'invalid_api_key' } });
  expect(gw.output()).not.toContain('sk-not-a-key-0123');
});
