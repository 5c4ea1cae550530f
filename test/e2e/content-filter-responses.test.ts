import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLIENT_KEY, ROOT, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic';
import { sendJson, startFakeOpenAI, type FakeOpenAI, type RecordedRequest } from '../helpers/fake-openai';

/**
 * The content filter on the OpenAI Responses API (`POST /v1/responses`), through real Envoy with
 * the official Python `openai` SDK, exactly as on chat completions: requests (`input` strings and
 * items, tool outputs, `instructions`) blocked or redacted before any provider sees them;
 * buffered answers and streams blocked or redacted, both passed through natively to an
 * OpenAI-compatible provider (its own `response.*` events) and translated for Anthropic. A
 * redacted match appears in no event (deltas, `.done` events, the final response); a blocked
 * stream ends with the Responses API's own `error` + `response.failed`.
 */

const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';
const NATIVE = 'gpt-4o';
const TRANSLATED = 'claude-test-1';

let anthropic: FakeAnthropic;
let openai: FakeOpenAI;
let gw: RunningGateway;

beforeAll(async () => {
  [anthropic, openai] = await Promise.all([startFakeAnthropic({ apiKey: 'sk-ant' }), startFakeOpenAI()]);
  gw = await startGateway({
    config: {
      providers: [
        { name: 'anthropic', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant', models: ['claude-*'] },
        { name: 'openai', type: 'openai-compatible', base_url: openai.url, api_key: 'sk-openai-upstream', models: ['gpt-*'] },
      ],
      keys: { entries: { [CLIENT_KEY]: { name: 'agent', user: 'agent-user', team: 'agents' } } },
      plugins: testPlugins(),
      security: {
        content_filtering_enabled: true,
        content_filters: [
          {
            name: 'responses',
            rules: [
              { name: 'block-codename', target: 'request', pattern: 'project[- ]falcon', flags: 'i', action: 'block' },
              { name: 'redact-password', target: 'request', pattern: 'hunter2', action: 'redact' },
              { name: 'block-ticket', target: 'response', pattern: 'TOP-SECRET-[0-9]{4}', action: 'block' },
              { name: 'redact-secret', target: 'response', pattern: 'SECRET-[0-9]+', action: 'redact', mask: '[gone]' },
            ],
          },
        ],
      },
    },
  });
}, 120000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([anthropic?.close(), openai?.close()]);
});

beforeEach(() => {
  anthropic.reset();
  openai.reset();
  openai.handle(nativeResponses);
});

/** The text of the last input item (or the input string), as the fake Anthropic echoes it. */
function lastText(body: any): string {
  if (typeof body.input === 'string') return body.input;
  const last = body.input.at(-1);
  if (typeof last.output === 'string') return last.output;
  return typeof last.content === 'string' ? last.content : last.content.map((p: any) => p.text ?? '').join('');
}

const sse = (type: string, payload: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;

/**
 * A fake OpenAI Responses endpoint (published wire format): answers `echo: <last input text>`,
 * streamed as `response.*` events with the text in 4-character deltas, so matches are split.
 */
function nativeResponses(req: RecordedRequest, res: http.ServerResponse): void {
  const body = req.json;
  const text = `echo: ${lastText(body)}`;
  const part = (t: string) => ({ type: 'output_text', text: t, annotations: [] });
  const item = (status: string, content: object[]) => ({ type: 'message', id: 'msg_n1', status, role: 'assistant', content });
  const response = (status: string, output: object[]) => ({ id: 'resp_n1', object: 'response', created_at: 1, status, model: body.model, output, usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 } });
  if (!body.stream) return sendJson(res, 200, response('completed', [item('completed', [part(text)])]));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let seq = 0;
  const send = (type: string, payload: object) => res.write(sse(type, { sequence_number: seq++, ...payload }));
  const at = { item_id: 'msg_n1', output_index: 0, content_index: 0 };
  send('response.created', { response: response('in_progress', []) });
  send('response.in_progress', { response: response('in_progress', []) });
  send('response.output_item.added', { output_index: 0, item: item('in_progress', []) });
  send('response.content_part.added', { ...at, part: part('') });
  for (const delta of text.match(/.{1,4}/gs) ?? []) send('response.output_text.delta', { ...at, delta, logprobs: [] });
  send('response.output_text.done', { ...at, text, logprobs: [] });
  send('response.content_part.done', { ...at, part: part(text) });
  send('response.output_item.done', { output_index: 0, item: item('completed', [part(text)]) });
  send('response.completed', { response: response('completed', [item('completed', [part(text)])]) });
  res.end();
}

/** Runs Responses calls with the Python SDK; each case's outcome as JSON. */
const SCRIPT = `
import json, os, openai
client = openai.OpenAI(base_url=os.environ["GATEWAY_URL"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
out = []
for case in json.loads(os.environ["CASES"]):
    kw = {k: case[k] for k in ("model", "input", "instructions") if k in case}
    try:
        if case["mode"] == "create":
            r = client.responses.create(**kw)
            out.append({"text": r.output_text, "dump": r.model_dump_json()})
        else:
            events = []
            with client.responses.stream(**kw) as s:
                for e in s:
                    events.append(e)
                try:
                    final = s.get_final_response().output_text
                except RuntimeError:
                    final = None
            deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
            out.append({"types": [e.type for e in events], "deltas": deltas, "final": final,
                        "seq": [e.sequence_number for e in events], "dump": json.dumps([e.model_dump() for e in events])})
    except openai.APIStatusError as e:
        out.append({"status": e.status_code, "code": e.code, "message": e.message})
print(json.dumps(out))
`;

interface Outcome {
  text?: string;
  dump?: string;
  types?: string[];
  deltas?: string;
  final?: string | null;
  seq?: number[];
  status?: number;
  code?: string;
  message?: string;
}

async function sdk(cases: object[]): Promise<Outcome[]> {
  const env = { ...process.env, GATEWAY_URL: gw.url, KEY: CLIENT_KEY, CASES: JSON.stringify(cases) };
  const run = await promisify(execFile)(PYTHON, ['-c', SCRIPT], { env, timeout: 60000 }).catch((e) => e);
  const line = String(run.stdout).trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('[')) throw new Error(`python failed: ${run.stdout}${run.stderr}`);
  return JSON.parse(line);
}

const upstreamBodies = () => [...openai.requests, ...anthropic.requests].map((r) => r.body).join('\n');

describe.each([
  ['native (OpenAI-compatible)', NATIVE],
  ['translated (Anthropic)', TRANSLATED],
])('%s', (_kind, model) => {
  test('requests: input strings, message items, tool outputs and instructions are redacted before the provider sees them', async () => {
    const call = { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{}' };
    const outcomes = await sdk([
      { mode: 'create', model, input: 'my password is hunter2' },
      { mode: 'create', model, instructions: 'the password is hunter2', input: 'hello' },
      { mode: 'create', model, input: [{ role: 'user', content: [{ type: 'input_text', text: 'use hunter2' }] }] },
      { mode: 'create', model, input: [{ role: 'user', content: 'look it up' }, call, { type: 'function_call_output', call_id: 'call_1', output: 'it is hunter2' }] },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([undefined, undefined, undefined, undefined]);
    expect(openai.requests.length + anthropic.requests.length).toBe(4);
    expect(upstreamBodies()).not.toContain('hunter2');
    expect(outcomes[0]!.text).toBe('echo: my password is [REDACTED:regex]');
    expect(outcomes[3]!.text).toBe('echo: it is [REDACTED:regex]');
  }, 90000);

  test('requests: a block answers 400 content_filtered naming the rule; nothing goes upstream', async () => {
    const outcomes = await sdk([
      { mode: 'create', model, input: 'status of Project Falcon?' },
      { mode: 'create', model, instructions: 'about project-falcon', input: 'hi' },
      { mode: 'stream', model, input: [{ type: 'function_call_output', call_id: 'c', output: 'project falcon' }] },
    ]);
    for (const o of outcomes) {
      expect(o).toMatchObject({ status: 400, code: 'content_filtered', message: expect.stringContaining('block-codename') });
      expect(o.message).not.toMatch(/falcon/i);
    }
    expect(openai.requests.length + anthropic.requests.length).toBe(0);
  }, 90000);

  test('buffered answers: redacted in the output text, blocked with 400 content_filtered', async () => {
    const [redacted, blocked] = await sdk([
      { mode: 'create', model, input: 'say SECRET-42 please' },
      { mode: 'create', model, input: 'read TOP-SECRET-1234 aloud' },
    ]);
    expect(redacted!.text).toBe('echo: say [gone] please');
    expect(redacted!.dump).not.toContain('SECRET-42');
    expect(blocked).toMatchObject({ status: 400, code: 'content_filtered', message: expect.stringContaining('block-ticket') });
  }, 90000);

  test('streams: a split match is redacted in every event; the SDK gets a well-formed stream', async () => {
    const [o] = await sdk([{ mode: 'stream', model, input: 'the code is SECRET-4242 and then some more words follow' }]);
    const want = 'echo: the code is [gone] and then some more words follow';
    expect(o!.final).toBe(want);
    expect(o!.deltas).toBe(want);
    expect(o!.dump).not.toContain('SECRET-4242');
    expect(o!.dump).toContain('[gone]');
    expect(o!.types!.at(-1)).toBe('response.completed');
    expect(o!.types).toEqual(expect.arrayContaining(['response.output_text.done', 'response.content_part.done', 'response.output_item.done']));
    expect(o!.seq).toEqual(o!.seq!.map((_s, i) => i));
  }, 90000);

  test('streams: a block ends the stream with error and response.failed, nothing of the match sent', async () => {
    const [o] = await sdk([{ mode: 'stream', model, input: 'the ticket is TOP-SECRET-1234, more text after it' }]);
    expect(o!.types!.slice(-2)).toEqual(['error', 'response.failed']);
    expect(o!.final).toBeNull();
    expect(o!.dump).not.toContain('TOP-SECRET');
    expect(o!.dump).toContain('block-ticket');
    expect(o!.seq).toEqual(o!.seq!.map((_s, i) => i));
  }, 90000);
});

test('native stream on the wire: the inserted delta has its event line, sequence numbers stay consecutive', async () => {
  const res = await fetch(`${gw.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: NATIVE, input: 'ends with SECRET-7', stream: true }),
  });
  expect(res.status).toBe(200);
  const raw = await res.text();
  expect(raw).not.toContain('SECRET-7');
  const events = raw
    .split('\n\n')
    .filter(Boolean)
    .map((e) => {
      const name = /^event: (.*)$/m.exec(e)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(e)![1]!);
      return { name, data };
    });
  for (const e of events) expect(e.name).toBe(e.data.type);
  expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_e, i) => i));
  const done = events.findIndex((e) => e.name === 'response.output_text.done');
  expect(events[done - 1]!.data).toMatchObject({ type: 'response.output_text.delta', item_id: 'msg_n1', output_index: 0, content_index: 0 });
  expect(events[done]!.data.text).toBe('echo: ends with [gone]');
});

describe('Anthropic Messages, streamed natively (filtered on their chat view)', () => {
  const stream = (content: string) =>
    fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: TRANSLATED, max_tokens: 64, stream: true, messages: [{ role: 'user', content }] }),
    });
  const named = (raw: string) => raw.split('\n\n').filter(Boolean).map((e) => /^event: (.*)$/m.exec(e)?.[1]);

  test('a block ends the stream with event: error, nothing of the match sent', async () => {
    const res = await stream('the ticket is TOP-SECRET-1234, more text after it');
    expect(res.status).toBe(200);
    const raw = await res.text();
    expect(anthropic.requests).toHaveLength(1);
    expect(raw).not.toContain('TOP-SECRET');
    expect(named(raw).at(-1)).toBe('error');
    expect(raw).toContain('block-ticket');
    expect(raw).not.toContain('message_stop');
  });

  test('a redaction reaches the client in every delta, with a proper end', async () => {
    const raw = await (await stream('the code is SECRET-4242 and then some more words follow')).text();
    expect(raw).not.toContain('SECRET-4242');
    const text = raw
      .split('\n\n')
      .filter((e) => e.includes('"text_delta"'))
      .map((e) => JSON.parse(/^data: (.*)$/m.exec(e)![1]!).delta.text)
      .join('');
    expect(text).toBe('echo: the code is [gone] and then some more words follow');
    expect(named(raw).at(-1)).toBe('message_stop');
  });
});
