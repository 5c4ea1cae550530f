import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { chat, ROOT, startGateway, testPlugins, waitFor, type RunningGateway } from '../helpers/gateway';
import { chunk, completion, sendJson, startFakeOpenAI, type FakeOpenAI, type Handler } from '../helpers/fake-openai';
import { sse, startFakeAnthropic } from '../helpers/fake-anthropic';

/**
 * Budgets that stop a stream, through a real Envoy: a key's token budget ends a long stream at the
 * budget (an error event, then [DONE]), Envoy cancels the upstream request, the usage record
 * carries what was spent and the outcome, the next request is refused, dollar budgets and team
 * budgets work the same, and a non-streamed request is bounded by lowering its output limit.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const WORD = 'tok '; // 4 characters: one token by the gateway's estimate
const PIECES = 3000;

/** What the fake upstream saw of each long stream: pieces written, and whether its client hung up first. */
interface UpstreamStream {
  written: number;
  cancelled: boolean;
  ended: boolean;
}

/** An upstream that streams PIECES one-token pieces, 2 ms apart, unless the gateway hangs up first. */
function longStream(seen: UpstreamStream[]): Handler {
  return async (req, res) => {
    const model = req.json.model;
    const s: UpstreamStream = { written: 0, cancelled: false, ended: false };
    seen.push(s);
    res.on('close', () => {
      if (!s.ended) s.cancelled = true;
    });
    if (!req.json.stream) {
      const n = Math.min(req.json.max_tokens ?? req.json.max_completion_tokens ?? PIECES, PIECES);
      s.ended = true;
      sendJson(res, 200, completion(model, WORD.repeat(n), { prompt_tokens: 8, completion_tokens: n, total_tokens: n + 8 }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(model, { role: 'assistant', content: '' }))}\n\n`);
    for (let i = 0; i < PIECES && !s.cancelled; i++) {
      res.write(`data: ${JSON.stringify(chunk(model, { content: WORD }))}\n\n`);
      s.written++;
      await new Promise((r) => setTimeout(r, 2));
    }
    if (s.cancelled) return;
    s.ended = true;
    res.write(`data: ${JSON.stringify(chunk(model, {}, 'stop'))}\n\n`);
    if (req.json.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ ...chunk(model, {}), choices: [], usage: { prompt_tokens: 8, completion_tokens: s.written, total_tokens: s.written + 8 } })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  };
}

async function python(gw: RunningGateway, key: string, extra: Record<string, string> = {}): Promise<any> {
  const env = { ...process.env, GATEWAY_URL: gw.url, KEY: key, ...extra };
  const { stdout } = await promisify(execFile)(PYTHON, [path.join(ROOT, 'test/python/budgets_check.py')], { env, timeout: 60000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

function records(gw: RunningGateway): Record<string, any>[] {
  const db = new Database(path.join(gw.dir, 'data', 'gateway.db'), { readonly: true });
  try {
    return db.prepare('SELECT key_id, prompt_tokens, completion_tokens, total_tokens, cost_usd, status, streamed, outcome FROM usage_records ORDER BY time').all() as Record<string, any>[];
  } finally {
    db.close();
  }
}

const BUDGET = 300;

/** The test chain with the budgets plugin; only its ledger decides (the quota plugin's check of recorded spend is off). */
const budgetPlugins = () => testPlugins({ use: 'budgets' }).map((p) => (p.use === 'quota' ? { use: 'quota', options: { enabled: false, enforce_budgets: false } } : p));

describe('budgets that stop a stream', () => {
  let fake: FakeOpenAI;
  let gw: RunningGateway;
  const seen: UpstreamStream[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    fake.handle(longStream(seen));
    gw = await startGateway({
      config: {
        providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
        keys: {
          entries: {
            'sk-budget-tokens': { name: 'tokens', user: 'alice', token_budget: BUDGET },
            'sk-budget-usd': { name: 'usd', user: 'bob', budget_usd: 0.3 },
            'sk-budget-team': { name: 'team', user: 'carol', team: 'thrifty' },
            'sk-budget-buffered': { name: 'buffered', user: 'dave', token_budget: BUDGET },
            'sk-no-budget': { name: 'free', user: 'erin' },
            'sk-budget-messages': { name: 'messages', user: 'frank', token_budget: BUDGET },
            'sk-budget-responses': { name: 'responses', user: 'grace', token_budget: BUDGET },
          },
        },
        // One dollar per thousand output tokens: the dollar budget above is 300 output tokens.
        pricing: { models: { 'gpt-4o-mini': { input: 0, output: 1000 } } },
        budgets: { teams: { thrifty: { tokens: BUDGET } } },
        plugins: budgetPlugins(),
      },
    });
  }, 60000);
  afterAll(async () => {
    await gw?.stop();
    await fake?.close();
  });

  test('a long stream ends at the token budget with an error the SDK raises, and the upstream is cancelled', async () => {
    seen.length = 0;
    const r = await python(gw, 'sk-budget-tokens');
    // A readable error from the stream's error event, not a broken connection.
    expect(r.other_error).toBeNull();
    expect(r.api_error).toMatchObject({ kind: 'stream', code: 'insufficient_quota', type: 'insufficient_quota' });
    // The prompt's estimate plus what was delivered is the budget, give or take one piece.
    const delivered = r.text.length / WORD.length;
    expect(delivered).toBeGreaterThan(BUDGET - 20);
    expect(delivered).toBeLessThanOrEqual(BUDGET);
    // Envoy reset the upstream request long before its 3000 pieces.
    await waitFor(() => seen[0]?.cancelled, 5000);
    expect(seen[0].written).toBeLessThan(BUDGET + 200);

    // The record: what was spent (the gateway's count: the provider never got to report it) and why it ended.
    const rec = (await waitFor(() => records(gw).find((x) => x.outcome === 'budget_exceeded'), 10000))!;
    expect(rec).toMatchObject({ status: 200, streamed: 1 });
    expect(rec.total_tokens).toBeGreaterThan(BUDGET);
    expect(rec.total_tokens).toBeLessThanOrEqual(BUDGET + 1);
    expect(rec.completion_tokens).toBe(Math.round(delivered) + 1);

    // Spent: the next request is refused before it goes upstream.
    const before = fake.requests.length;
    const next = await chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'more' }] }, { authorization: 'Bearer sk-budget-tokens' });
    expect(next.status).toBe(429);
    expect(next.headers.get('x-should-retry')).toBe('false');
    expect(((await next.json()) as any).error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(fake.requests.length).toBe(before);
  }, 60000);

  test('the raw stream ends well-formed: the error event, [DONE], and the end of the chunked body; the upstream is cancelled', async () => {
    seen.length = 0;
    const res = await chat(gw.url, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'go' }] }, { authorization: 'Bearer sk-budget-team' });
    expect(res.status).toBe(200);
    // text() resolves only on a complete body: a reset would reject it.
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice('data: '.length)).error).toMatchObject({ code: 'insufficient_quota', message: expect.stringContaining('team') });
    // This client read to the end: it is the gateway that ended the response and Envoy that hung up on the upstream.
    expect(seen).toHaveLength(1);
    await waitFor(() => seen[0].cancelled, 5000);
    expect(seen[0].ended).toBe(false);
    expect(seen[0].written).toBeLessThan(BUDGET + 200);
  }, 60000);

  test("a client surface's stream ends in its own API: Anthropic Messages gets `event: error`", async () => {
    seen.length = 0;
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'sk-budget-messages', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: 'go' }] }),
    });
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    const last = events.at(-1)!;
    expect(last).toMatch(/^event: error\n/);
    expect(JSON.parse(last.split('\n')[1].slice('data: '.length))).toMatchObject({ type: 'error', error: { message: expect.stringContaining('budget') } });
    const text = events.filter((e) => e.startsWith('event: content_block_delta')).map((e) => JSON.parse(e.split('\n')[1].slice(6)).delta.text).join('');
    expect(text.length / WORD.length).toBeGreaterThan(BUDGET - 30);
    expect(text.length / WORD.length).toBeLessThanOrEqual(BUDGET);
    await waitFor(() => seen[0]?.cancelled, 5000);
    expect(seen[0].ended).toBe(false);
  }, 60000);

  test('a Responses client (official SDK) gets its own end: the stream stops at the budget without a broken connection', async () => {
    seen.length = 0;
    const r = await python(gw, 'sk-budget-responses', { API: 'responses' });
    expect(r.other_error).toBeNull();
    // The surface ends it in the Responses API's terms: an error event, then a failed response naming the budget.
    expect(r.api_error).toBeNull();
    expect(r.failed?.code).toBe('insufficient_quota');
    expect(r.last_event).toBe('response.failed');
    // About one event per token passed before the end (how many exactly is the surface's translation).
    expect(r.chunks).toBeGreaterThan(BUDGET - 30);
    expect(r.chunks).toBeLessThan(BUDGET + 30);
    await waitFor(() => seen[0]?.cancelled, 5000);
    expect(seen[0].written).toBeLessThan(BUDGET + 200);
  }, 60000);

  test('a dollar budget ends a stream the same way', async () => {
    seen.length = 0;
    const r = await python(gw, 'sk-budget-usd');
    expect(r.other_error).toBeNull();
    expect(r.api_error).toMatchObject({ kind: 'stream', code: 'insufficient_quota' });
    const delivered = r.text.length / WORD.length;
    expect(delivered).toBeGreaterThan(280);
    expect(delivered).toBeLessThanOrEqual(300);
    await waitFor(() => seen[0]?.cancelled, 5000);
    const rec = (await waitFor(() => records(gw).find((x) => x.key_id && x.outcome === 'budget_exceeded' && x.cost_usd > 0), 10000))!;
    expect(rec.cost_usd).toBeGreaterThan(0.28);
    expect(rec.cost_usd).toBeLessThanOrEqual(0.301);
  }, 60000);

  test('a non-streamed request is bounded: its output limit is lowered to what is left', async () => {
    fake.requests.length = 0;
    const res = await chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'go' }] }, { authorization: 'Bearer sk-budget-buffered' });
    expect(res.status).toBe(200);
    const sent = fake.requests.at(-1)!.json;
    expect(sent.max_tokens).toBeGreaterThan(BUDGET - 20);
    expect(sent.max_tokens).toBeLessThan(BUDGET);
    // The provider's usage (8 + max_tokens) settles it: too little is left for another request.
    const again = await chat(gw.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'go' }] }, { authorization: 'Bearer sk-budget-buffered' });
    await again.text();
    expect(again.status).toBe(429);
  }, 60000);

  test('refusals and cuts are counted, by scope and unit', async () => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(value('gateway_budget_stream_cuts_total', 'scope="key",unit="tokens"')).toBeGreaterThanOrEqual(2);
    expect(value('gateway_budget_stream_cuts_total', 'scope="team",unit="tokens"')).toBe(1);
    expect(value('gateway_budget_stream_cuts_total', 'scope="key",unit="usd"')).toBe(1);
    expect(value('gateway_budget_refusals_total', 'scope="key",unit="tokens"')).toBeGreaterThanOrEqual(2);
  });

  test('a key without a budget streams to the end', async () => {
    seen.length = 0;
    const r = await python(gw, 'sk-no-budget');
    expect(r).toMatchObject({ api_error: null, other_error: null });
    expect(r.text.length / WORD.length).toBe(PIECES);
    expect(seen[0]).toMatchObject({ cancelled: false, ended: true });
  }, 60000);
});

describe('a native Anthropic stream (Messages client, Anthropic provider)', () => {
  test('ends at the budget in Anthropic events, and the upstream is cancelled', async () => {
    const anthropic = await startFakeAnthropic();
    const upstream: UpstreamStream = { written: 0, cancelled: false, ended: false };
    anthropic.handle(async (_req, res) => {
      res.on('close', () => {
        if (!upstream.ended) upstream.cancelled = true;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('message_start', { message: { id: 'msg_b', type: 'message', role: 'assistant', model: 'claude-budget', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 8, output_tokens: 1 } } }));
      res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
      for (let i = 0; i < PIECES && !upstream.cancelled; i++) {
        res.write(sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: WORD } }));
        upstream.written++;
        await new Promise((r) => setTimeout(r, 2));
      }
      if (upstream.cancelled) return;
      upstream.ended = true;
      res.write(sse('content_block_stop', { index: 0 }));
      res.write(sse('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: upstream.written } }));
      res.end(sse('message_stop', {}));
    });
    const gw = await startGateway({
      config: {
        providers: [{ name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-upstream', models: ['claude-*'] }],
        keys: { entries: { 'sk-budget-native': { name: 'native', user: 'judy', token_budget: BUDGET } } },
        plugins: budgetPlugins(),
      },
    });
    try {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'sk-budget-native', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-budget', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: 'go' }] }),
      });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events[0]).toMatch(/^event: message_start\n/);
      expect(events.at(-1)).toMatch(/^event: error\n/);
      expect(events.at(-1)).toContain('budget');
      const deltas = events.filter((e) => e.startsWith('event: content_block_delta')).length;
      expect(deltas).toBeGreaterThan(BUDGET - 30);
      expect(deltas).toBeLessThanOrEqual(BUDGET);
      await waitFor(() => upstream.cancelled, 5000);
      expect(upstream.written).toBeLessThan(BUDGET + 200);
    } finally {
      await gw.stop();
      await anthropic.close();
    }
  }, 60000);
});

describe('budgets across a restart, without Redis', () => {
  test('the in-process ledger of a new process starts from the usage records: a restart never undoes a spend', async () => {
    const fake = await startFakeOpenAI();
    const seen: UpstreamStream[] = [];
    fake.handle(longStream(seen));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-budgets-data-'));
    const config = (budget: number) => ({
      providers: [{ name: 'openai', type: 'openai-compatible', base_url: fake.url, api_key: 'sk-upstream', models: ['gpt-*'] }],
      keys: { entries: { 'sk-budget-restart': { name: 'restart', user: 'ivan', token_budget: budget } } },
      store: { data_dir: dataDir },
      plugins: budgetPlugins(),
    });
    const ask = (gw: RunningGateway) => chat(gw.url, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'go' }] }, { authorization: 'Bearer sk-budget-restart' });
    try {
      const first = await startGateway({ config: config(BUDGET) });
      try {
        const res = await ask(first);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('insufficient_quota');
      } finally {
        // A shutdown writes every queued usage record.
        await first.stop();
      }
      const second = await startGateway({ config: config(BUDGET) });
      try {
        const res = await ask(second);
        expect(res.status).toBe(429);
        expect(((await res.json()) as any).error.code).toBe('insufficient_quota');
        expect(second.logs().find((l) => l.msg === 'budget ledger')).toMatchObject({ backend: 'memory' });
      } finally {
        await second.stop();
      }
      expect(seen).toHaveLength(1);
    } finally {
      await fake.close();
    }
  }, 90000);
});
