import { filterBody, ResponsesStreamFilter } from '../../../plugins/content-filter/engine';
import type { JsonValue } from '../../../src/domain';
import { FAKE_KEY, filters, SCAN } from './helpers';

/**
 * The OpenAI Responses API under the content filter: request `input` and `instructions`,
 * buffered Responses, and native Responses streams (deltas through a hold-back window, the
 * `.done` events and the final response carrying exactly the text the deltas released).
 */

const redact = filters({ name: 'kw', keywords: ['falcon'], action: 'redact', mask: 'X' });
const block = filters({ name: 'stop', keywords: ['falcon'], action: 'block' });

describe('Responses requests (default paths)', () => {
  const fc = { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":"falcon"}' };
  test.each<[string, Record<string, JsonValue>, Record<string, JsonValue> | 'unchanged']>([
    ['input string', { model: 'm', input: 'a falcon' }, { input: 'a X' }],
    ['instructions string', { model: 'm', instructions: 'never say falcon', input: 'hi' }, { instructions: 'never say X' }],
    [
      'message items with input_text parts and plain content',
      { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'falcon?' }, { type: 'input_image', image_url: 'https://x/falcon.png' }] }, { role: 'developer', content: 'falcon rules' }] },
      { input: [{ role: 'user', content: [{ type: 'input_text', text: 'X?' }, { type: 'input_image', image_url: 'https://x/falcon.png' }] }, { role: 'developer', content: 'X rules' }] },
    ],
    [
      'assistant history (output_text parts)',
      { model: 'm', input: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'the falcon' }] }] },
      { input: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'the X' }] }] },
    ],
    [
      'function_call_output: string output (a chat tool message), arguments left alone (as chat tool_calls)',
      { model: 'm', input: [fc, { type: 'function_call_output', call_id: 'c1', output: 'found a falcon' }] },
      { input: [fc, { type: 'function_call_output', call_id: 'c1', output: 'found a X' }] },
    ],
    [
      'function_call_output: output as input_text parts',
      { model: 'm', input: [{ type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'falcon' }] }] },
      { input: [{ type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'X' }] }] },
    ],
    ['nothing to mask', { model: 'm', instructions: 'be kind', input: [fc] }, 'unchanged'],
  ])('redact: %s', (_name, body, want) => {
    const out = filterBody(body, redact.request, 'request', SCAN);
    if (want === 'unchanged') expect(out.body).toBeUndefined();
    else expect(out.body).toEqual({ ...body, ...want });
  });

  test.each([
    ['instructions', { model: 'm', instructions: 'falcon', input: 'hi' }],
    ['a tool output', { model: 'm', input: [{ type: 'function_call_output', call_id: 'c', output: 'falcon' }] }],
  ])('block: %s', (_name, body) => {
    expect(filterBody(body, block.request, 'request', SCAN).blocked?.rule.name).toBe('stop');
  });
});

describe('buffered Responses answers', () => {
  const response = (...items: JsonValue[]) => ({ id: 'resp_1', object: 'response', status: 'completed', output: items });
  const message = (...texts: string[]) => ({ type: 'message', id: 'msg_1', role: 'assistant', content: texts.map((text) => ({ type: 'output_text', text, annotations: [] })) });
  const call = { type: 'function_call', id: 'fc_1', call_id: 'c', name: 'f', arguments: '{"a":"falcon"}' };

  test('output_text parts are masked; function call arguments are not scanned (as chat tool_calls)', () => {
    const out = filterBody(response(message('a falcon', 'b'), call), redact.response, 'response', SCAN);
    expect(out.body).toEqual(response(message('a X', 'b'), call));
  });

  test('block', () => {
    expect(filterBody(response(message('falcon')), block.response, 'response', SCAN).blocked?.rule.name).toBe('stop');
  });
});

/** A native Responses stream of one message whose text arrives as `pieces`. */
function nativeStream(pieces: string[]): Record<string, JsonValue>[] {
  const text = pieces.join('');
  const at = { item_id: 'msg_1', output_index: 0 };
  const part = (t: string) => ({ type: 'output_text', text: t, annotations: [] });
  const item = (status: string, content: JsonValue[]) => ({ type: 'message', id: 'msg_1', status, role: 'assistant', content });
  const events: Record<string, JsonValue>[] = [
    { type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } },
    { type: 'response.output_item.added', output_index: 0, item: item('in_progress', []) },
    { type: 'response.content_part.added', ...at, content_index: 0, part: part('') },
    ...pieces.map((delta) => ({ type: 'response.output_text.delta', ...at, content_index: 0, delta, logprobs: [] })),
    { type: 'response.output_text.done', ...at, content_index: 0, text, logprobs: [] },
    { type: 'response.content_part.done', ...at, content_index: 0, part: part(text) },
    { type: 'response.output_item.done', output_index: 0, item: item('completed', [part(text)]) },
    { type: 'response.completed', response: { id: 'resp_1', status: 'completed', output: [item('completed', [part(text)])] } },
  ];
  return events.map((e, i) => ({ ...e, sequence_number: i }));
}

/** What the client gets: every event as the filter leaves it, inserted ones included; or the block. */
function run(f: ResponsesStreamFilter, events: Record<string, JsonValue>[]): { out: any[]; blocked?: string; findings: number } {
  const out: any[] = [];
  let findings = 0;
  for (const e of events) {
    const r = f.event(e);
    if (r.blocked) return { out, blocked: r.blocked.rule.name, findings };
    findings += r.findings.length;
    out.push(...r.insert, r.replace ?? e);
  }
  return { out, findings };
}

/** Every text the client can read from a Responses stream, event by event. */
function texts(out: any[]) {
  const deltas = out.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  const done = out.find((e) => e.type === 'response.output_text.done')?.text;
  const partDone = out.find((e) => e.type === 'response.content_part.done')?.part.text;
  const itemDone = out.find((e) => e.type === 'response.output_item.done')?.item.content[0]?.text;
  const final = out.find((e) => e.type === 'response.completed')?.response.output[0]?.content[0]?.text;
  return { deltas, done, partDone, itemDone, final };
}

describe('native Responses streams', () => {
  const keys = filters({ name: 'keys', detectors: ['secrets'], action: 'redact' });
  const secretText = `your key is ${FAKE_KEY} keep it`;
  test.each([
    ['split across two deltas', [secretText.slice(0, 20), secretText.slice(20)]],
    ['split across many deltas', secretText.match(/.{1,7}/g)!],
    ['in one delta', [secretText]],
    ['at the very end (released by the inserted delta)', [`key ${FAKE_KEY}`]],
  ])('redact (%s): every event carries the same masked text', (_name, pieces) => {
    const { out, findings } = run(new ResponsesStreamFilter(keys.response, SCAN), nativeStream(pieces));
    const want = pieces.join('').replace(FAKE_KEY, '[REDACTED:secrets]');
    const t = texts(out);
    expect(t).toEqual({ deltas: want, done: want, partDone: want, itemDone: want, final: want });
    expect(JSON.stringify(out)).not.toContain(FAKE_KEY.slice(0, 12));
    expect(findings).toBe(1);
  });

  test('held-back text is released in a delta inserted before output_text.done; sequence numbers stay consecutive', () => {
    const { out } = run(new ResponsesStreamFilter(redact.response, SCAN), nativeStream(['hello ', 'there']));
    expect(out.map((e) => e.sequence_number)).toEqual(out.map((_e, i) => i));
    const doneAt = out.findIndex((e) => e.type === 'response.output_text.done');
    expect(out[doneAt - 1]).toMatchObject({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0 });
    expect(texts(out).deltas).toBe('hello there');
  });

  test('block: stops as soon as the match is seen, before any of it was released', () => {
    const { out, blocked } = run(new ResponsesStreamFilter(block.response, SCAN), nativeStream(['a fal', 'con flew']));
    expect(blocked).toBe('stop');
    expect(JSON.stringify(out)).not.toContain('fal');
  });

  test('block in text that came only in the final events (no deltas)', () => {
    const events = nativeStream(['the falcon']).filter((e) => e.type !== 'response.output_text.delta');
    expect(run(new ResponsesStreamFilter(block.response, SCAN), events).blocked).toBe('stop');
  });

  test('text that came without deltas is masked where it appears', () => {
    const events = nativeStream(['the falcon']).filter((e) => e.type !== 'response.output_text.delta');
    const t = texts(run(new ResponsesStreamFilter(redact.response, SCAN), events).out);
    expect(t).toEqual({ deltas: '', done: 'the X', partDone: 'the X', itemDone: 'the X', final: 'the X' });
  });

  test('rules whose paths do not select Responses output leave the stream alone', () => {
    const chatOnly = filters({ name: 'chat', paths: ['$.choices[*].message.content'], keywords: ['falcon'], action: 'block' });
    const events = nativeStream(['a falcon']);
    const { out, blocked } = run(new ResponsesStreamFilter(chatOnly.response, SCAN), events);
    expect(blocked).toBeUndefined();
    expect(out).toEqual(events);
  });

  test('other events (function call arguments, unknown types, non-events) pass unchanged', () => {
    const f = new ResponsesStreamFilter(block.response, SCAN);
    for (const e of [
      { type: 'response.function_call_arguments.delta', sequence_number: 1, item_id: 'fc', output_index: 0, delta: '{"a":"falcon"}' },
      { type: 'response.something_new', sequence_number: 2, text: 'falcon' },
      'not an event',
      null,
    ] as JsonValue[]) {
      expect(f.event(e)).toEqual({ insert: [], findings: [] });
    }
  });

  test.each([['__proto__'], [-1], [1e9], [null]])('a malformed output_index (%p) is still scanned', (index) => {
    const f = new ResponsesStreamFilter(block.response, SCAN);
    const r = f.event({ type: 'response.output_text.delta', sequence_number: 1, item_id: 'm', output_index: index, content_index: 0, delta: 'a falcon' });
    expect(r.blocked?.rule.name).toBe('stop');
  });
});
