import path from 'node:path';
import Database from 'better-sqlite3';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';

/**
 * The gateway keys each request on an id it mints itself, never on the x-request-id a client
 * sends: two callers repeating one x-request-id, at the same moment, to providers with different
 * wire formats, each get their own translated answer and their own usage record.
 */

const KEY_A = 'sk-exchange-a';
const KEY_B = 'sk-exchange-b';
const SHARED_ID = 'the-same-request-id';
const ROUNDS = 200;

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gw: RunningGateway;

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic({ apiKey: 'sk-anthropic' })]);
  gw = await startGateway({
    config: {
      providers: [
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai', models: ['gpt-*'] },
        { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-anthropic', models: ['claude-*'] },
      ],
      keys: { entries: { [KEY_A]: { name: 'a', user: 'alice', team: 'a' }, [KEY_B]: { name: 'b', user: 'bob', team: 'b' } } },
      plugins: testPlugins(),
    },
  });
}, 60000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([openai?.close(), anthropic?.close()]);
});

interface Answer {
  status: number;
  servedBy: string | null;
  content: string;
  model: string;
  objects: string[];
}

async function ask(key: string, model: string, text: string, stream: boolean): Promise<Answer> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': SHARED_ID },
    body: JSON.stringify({ model, stream, max_tokens: 50, messages: [{ role: 'user', content: text }] }),
  });
  const servedBy = res.headers.get('x-gateway-served-by');
  if (!stream) {
    const body = await res.json();
    return { status: res.status, servedBy, content: body.choices?.[0]?.message?.content ?? JSON.stringify(body), model: body.model, objects: [body.object] };
  }
  const chunks = (await res.text())
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)));
  return {
    status: res.status,
    servedBy,
    content: chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join(''),
    model: chunks[0]?.model,
    objects: [...new Set(chunks.map((c) => c.object))],
  };
}

test(`${ROUNDS} rounds of concurrent pairs sharing one x-request-id: own answers, one usage record each`, async () => {
  const wrong: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const stream = i % 2 === 1;
    const [a, b] = await Promise.all([ask(KEY_A, 'gpt-4o-mini', `alpha ${i}`, stream), ask(KEY_B, 'claude-sonnet-4-5', `bravo ${i}`, stream)]);
    const kind = stream ? 'chat.completion.chunk' : 'chat.completion';
    // The fake OpenAI streams the words without the `echo: ` prefix; the fake Anthropic always adds it.
    const wantA = stream ? `alpha${i}` : `echo: alpha ${i}`;
    if (a.status !== 200 || a.servedBy !== 'openai/gpt-4o-mini' || a.content !== wantA || a.model !== 'gpt-4o-mini' || a.objects.join() !== kind) {
      wrong.push(`round ${i} a: ${JSON.stringify(a)}`);
    }
    if (b.status !== 200 || b.servedBy !== 'anthropic/claude-sonnet-4-5' || b.content !== `echo: bravo ${i}` || !b.model?.startsWith('claude-sonnet-4-5') || b.objects.join() !== kind) {
      wrong.push(`round ${i} b: ${JSON.stringify(b)}`);
    }
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  expect(openai.requests).toHaveLength(ROUNDS);
  expect(anthropic.requests).toHaveLength(ROUNDS);

  const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
  try {
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM usage_records').get() as { n: number }).n;
    await waitFor(() => count() >= 2 * ROUNDS, 15000);
    const rows = db.prepare('SELECT id, request_id, key_id, user_id, provider, model_served, total_tokens, status, outcome FROM usage_records').all() as Record<string, any>[];
    expect(rows).toHaveLength(2 * ROUNDS);
    expect(new Set(rows.map((r) => r.id)).size).toBe(2 * ROUNDS);
    // The client's id is kept for correlation, on every record.
    expect(rows.every((r) => r.request_id === SHARED_ID)).toBe(true);
    const byKey = (user: string) => rows.filter((r) => r.user_id === user && r.key_id);
    expect(byKey('alice')).toHaveLength(ROUNDS);
    expect(byKey('bob')).toHaveLength(ROUNDS);
    expect(byKey('alice').every((r) => r.provider === 'openai' && r.model_served === 'gpt-4o-mini' && r.total_tokens === 12 && r.status === 200)).toBe(true);
    expect(byKey('bob').every((r) => r.provider === 'anthropic' && r.model_served.startsWith('claude-sonnet-4-5') && r.total_tokens > 0 && r.status === 200)).toBe(true);
    expect(rows.every((r) => r.outcome === 'completed')).toBe(true);
  } finally {
    db.close();
  }
}, 180000);

test('the exchange id never comes from the client: an x-gateway-* or metadata-looking header changes nothing', async () => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${KEY_A}`,
      'x-request-id': SHARED_ID,
      'x-gateway-exchange': 'forged',
      'x-gateway-exchange-id': 'forged',
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'forged?' }] }),
  });
  expect(res.status).toBe(200);
  expect((await res.json()).choices[0].message.content).toBe('echo: forged?');
  const sent = openai.requests.at(-1)!;
  expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-gateway-'))).toEqual([]);
  // Logs carry both: the gateway's id and the client's correlation id.
  const line = await waitFor(() => gw.logs().find((l) => l.msg === 'request' && l.request_id === SHARED_ID && l.model === 'gpt-4o-mini'));
  expect(line.exchange_id).toMatch(/^[0-9a-f-]{36}$/);
});
