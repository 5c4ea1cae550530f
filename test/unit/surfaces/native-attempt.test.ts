import type { JsonObject } from '../../../src/domain';
import { setTopLevelString } from '../../../src/core/raw-json';
import { planSurfaceAttempt, viewKey, type SurfaceRequest } from '../../../src/core/surface-attempt';
import { anthropicMessages } from '../../../src/surfaces/anthropic';
import { openAIResponses, RESPONSES_ROUTE, openAIStreamAbort } from '../../../src/surfaces';

/** Per attempt: native (the client's bytes, model alone set) or translated; the raw model edit. */

describe('setTopLevelString: only the top-level value changes, byte for byte', () => {
  test.each<[string, string, string | undefined]>([
    ['{"model":"a","x":1}', 'b', '{"model":"b","x":1}'],
    ['{ "x" : {"model":"nested"}, "model" :  "a" }', 'b', '{ "x" : {"model":"nested"}, "model" :  "b" }'],
    ['{"messages":[{"content":"\\"model\\": \\"a\\""}],"model":"a"}', 'b', '{"messages":[{"content":"\\"model\\": \\"a\\""}],"model":"b"}'],
    ['{"model":"a","model":"c"}', 'b', '{"model":"b","model":"b"}'],
    ['{"mod\\u0065l":"a"}', 'b', '{"mod\\u0065l":"b"}'],
    ['{"model":"b","z":"\\u00e9"}', 'b', '{"model":"b","z":"\\u00e9"}'],
    ['{"model":5}', 'b', undefined],
  ])('%s', (text, value, expected) => {
    expect(setTopLevelString(text, 'model', value)).toBe(expected);
  });
});

const messagesRequest = (clientBody: JsonObject, text = JSON.stringify(clientBody)): { sr: SurfaceRequest; view: JsonObject } => {
  const route = anthropicMessages.route('/')!;
  const view = anthropicMessages.request(route, clientBody);
  return { sr: { surface: anthropicMessages, route, clientBody, clientText: text, view: viewKey(view) }, view };
};
const get = (h: string) => ({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'b1' })[h];

describe('planSurfaceAttempt', () => {
  const body = { model: 'alias', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] };

  test('Messages on anthropic: native, the client text with the model set, its headers carried', () => {
    const { sr, view } = messagesRequest(body, ' {"model":"alias","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}');
    // usage-recorder style edits (stream_options) and the model do not count as content edits.
    const plan = planSurfaceAttempt(sr, { ...view, model: 'other', stream_options: { include_usage: true } }, { type: 'anthropic' }, 'claude-real', get);
    expect(plan).toEqual({ kind: 'native', endpoint: 'messages', text: ' {"model":"claude-real","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}', headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'b1' } });
  });

  test('Messages whose view a plugin edited (a redaction): translated, from the edited view', () => {
    const { sr, view } = messagesRequest(body);
    const redacted = { ...view, messages: [{ role: 'user', content: '[REDACTED]' }] };
    expect(planSurfaceAttempt(sr, redacted, { type: 'anthropic' }, 'claude-real', get)).toEqual({ kind: 'translated', endpoint: 'chat.completions', body: redacted });
  });

  test('Messages on another provider: translated; what it cannot carry refused', () => {
    const { sr, view } = messagesRequest(body);
    expect(planSurfaceAttempt(sr, view, { type: 'openai-compatible' }, 'gpt', get)).toEqual({ kind: 'translated', endpoint: 'chat.completions', body: view });
    const server = messagesRequest({ ...body, tools: [{ type: 'bash_20250124', name: 'bash' }] });
    expect(() => planSurfaceAttempt(server.sr, server.view, { type: 'google' }, 'g', get)).toThrow(/tools\.0/);
    expect(planSurfaceAttempt(server.sr, server.view, { type: 'anthropic' }, 'c', get).kind).toBe('native');
  });

  test('count_tokens: native on anthropic, else the estimate without a provider', () => {
    const route = anthropicMessages.route('/count_tokens')!;
    const clientBody = { model: 'm', messages: [{ role: 'user', content: 'abcdefgh' }] };
    const view = anthropicMessages.request(route, clientBody);
    const sr: SurfaceRequest = { surface: anthropicMessages, route, clientBody, clientText: JSON.stringify(clientBody), view: viewKey(view) };
    expect(planSurfaceAttempt(sr, view, { type: 'anthropic' }, 'm', get)).toMatchObject({ kind: 'native', endpoint: 'messages.count_tokens' });
    expect(planSurfaceAttempt(sr, view, { type: 'openai' }, 'm', get)).toEqual({ kind: 'answer', body: { input_tokens: 6 } });
  });

  test('Responses: native (plugins edits included) on OpenAI, translated elsewhere', () => {
    const clientBody = { model: 'm', input: 'hi', previous_response_id: 'resp_1' };
    const sr: SurfaceRequest = { surface: openAIResponses, route: RESPONSES_ROUTE, clientBody, clientText: JSON.stringify(clientBody), view: undefined };
    const edited = { ...clientBody, input: '[REDACTED]' };
    expect(planSurfaceAttempt(sr, edited, { type: 'openai' }, 'gpt', get)).toEqual({ kind: 'native', endpoint: 'responses', body: { ...edited, model: 'gpt' }, headers: {} });
    // Untouched: the client's bytes, the model set.
    expect(planSurfaceAttempt(sr, { ...clientBody }, { type: 'openai-compatible' }, 'gpt', get)).toEqual({ kind: 'native', endpoint: 'responses', text: JSON.stringify({ ...clientBody, model: 'gpt' }), headers: {} });
    expect(() => planSurfaceAttempt(sr, edited, { type: 'anthropic' }, 'c', get)).toThrow(/previous_response_id/);
    const plain = { model: 'm', input: 'hi' };
    expect(planSurfaceAttempt({ ...sr, clientBody: plain }, plain, { type: 'cohere' }, 'c', get)).toEqual({ kind: 'translated', endpoint: 'chat.completions', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
  });
});

test('a stream without a surface ends early with OpenAI data error and [DONE]', () => {
  const err = { error: { message: 'spent', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } };
  expect(openAIStreamAbort(err).map((e) => e.serialize())).toEqual([`data: ${JSON.stringify(err)}\n\n`, 'data: [DONE]\n\n']);
  expect(openAIStreamAbort(err)).toHaveLength(2);
});
