import { isGatewayError, type GatewayError } from '../../../src/domain/errors';
import type { JsonObject, JsonValue } from '../../../src/domain';
import { SseEvent, SseParser } from '../../../src/domain/sse';
import { parsePath } from '../../../src/core/endpoints';
import { SURFACES } from '../../../src/surfaces';
import { anthropicMessages, estimateInputTokens } from '../../../src/surfaces/anthropic';
import type { SurfaceRoute } from '../../../src/surfaces/types';

/** Anthropic Messages: paths, request → chat, chat → message, chunks → events, errors, count estimate. */

const route = (rest: string): SurfaceRoute => {
  const r = anthropicMessages.route(rest);
  if (!r) throw new Error(`no route for ${rest}`);
  return r;
};
const MESSAGES = route('/');
const COUNT = route('/count_tokens');
const ctx = { requestedModel: 'claude-x', provider: 'openai' };
const toChat = (body: JsonObject) => anthropicMessages.request(MESSAGES, body);
const base = { model: 'claude-x', max_tokens: 100 };

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('did not refuse');
}

test('is listed among the surfaces, native to anthropic providers only', () => {
  expect(SURFACES).toContain(anthropicMessages);
  expect(anthropicMessages.native!(MESSAGES, 'anthropic')).toBe(true);
  for (const t of ['openai', 'openai-compatible', 'google', 'cohere']) expect(anthropicMessages.native!(MESSAGES, t)).toBe(false);
});

test.each<[string, string, string | undefined, string | undefined]>([
  ['/v1/messages', 'chat.completions', 'messages', 'messages'],
  ['/v1/messages/', 'chat.completions', 'messages', 'messages'],
  ['/v1/messages/count_tokens', 'chat.completions', 'count_tokens', 'messages.count_tokens'],
  ['/v1/messages/batches', 'unknown', undefined, undefined],
])('path %s → %s (%s)', (path, endpoint, operation, api) => {
  const p = parsePath(path);
  expect(p.endpoint).toBe(endpoint);
  expect(p.surface?.surface).toBe(anthropicMessages);
  expect(p.surface?.route?.operation).toBe(operation);
  expect(p.surface?.route?.api).toBe(api);
});

describe('request → chat completions', () => {
  test.each<[string, JsonObject, JsonObject]>([
    ['string content', { ...base, messages: [{ role: 'user', content: 'hi' }] }, { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }],
    [
      'system string, sampling, stop, user, stream',
      { ...base, system: 'sys', temperature: 0.5, top_p: 0.9, top_k: 3, stop_sequences: ['X'], metadata: { user_id: 'u' }, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      {
        model: 'claude-x',
        max_tokens: 100,
        temperature: 0.5,
        top_p: 0.9,
        stop: ['X'],
        user: 'u',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hi' }],
      },
    ],
    [
      'system blocks joined, cache_control dropped',
      { ...base, system: [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'b' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] },
      { model: 'claude-x', max_tokens: 100, messages: [{ role: 'system', content: 'a\n\nb' }, { role: 'user', content: 'hi' }] },
    ],
    [
      'images: base64 → data URL, url → url',
      {
        ...base,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } },
              { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
            ],
          },
        ],
      },
      {
        model: 'claude-x',
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } },
              { type: 'image_url', image_url: { url: 'https://x/y.png' } },
            ],
          },
        ],
      },
    ],
    [
      'tool use and results, thinking dropped, tool messages before the user text',
      {
        ...base,
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 's' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 't1', name: 'w', input: { city: 'Paris' } },
              { type: 'tool_use', id: 't2', name: 'w', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't1', content: 'sunny' },
              { type: 'tool_result', tool_use_id: 't2', content: [{ type: 'text', text: 'oops' }], is_error: true },
              { type: 'text', text: 'thanks' },
            ],
          },
        ],
      },
      {
        model: 'claude-x',
        max_tokens: 100,
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
              { id: 't2', type: 'function', function: { name: 'w', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: 'sunny' },
          { role: 'tool', tool_call_id: 't2', content: 'Error: oops' },
          { role: 'user', content: 'thanks' },
        ],
      },
    ],
    [
      'tools and tool_choice any, parallel off',
      { ...base, tools: [{ name: 'w', description: 'd', input_schema: { type: 'object' } }], tool_choice: { type: 'any', disable_parallel_tool_use: true }, messages: [{ role: 'user', content: 'x' }] },
      {
        model: 'claude-x',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'w', description: 'd', parameters: { type: 'object' } } }],
        tool_choice: 'required',
        parallel_tool_calls: false,
      },
    ],
    [
      'tool_choice tool / none',
      { ...base, tools: [{ name: 'w', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'w' }, messages: [{ role: 'user', content: 'x' }] },
      {
        model: 'claude-x',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object' } } }],
        tool_choice: { type: 'function', function: { name: 'w' } },
      },
    ],
  ])('%s', (_name, body, expected) => {
    expect(toChat(body)).toEqual(expected);
  });

  test('count_tokens needs no max_tokens', () => {
    expect(anthropicMessages.request(COUNT, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).toEqual({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
  });

  test.each<[string, JsonObject, string, string]>([
    ['no max_tokens', { model: 'm', messages: [] }, 'max_tokens', 'missing_required_parameter'],
    ['max_tokens 0', { model: 'm', max_tokens: 0, messages: [] }, 'max_tokens', 'invalid_value'],
    ['no messages', { ...base }, 'messages', 'missing_required_parameter'],
    ['bad role', { ...base, messages: [{ role: 'system', content: 'x' }] }, 'messages.0.role', 'invalid_value'],
    ['bad content', { ...base, messages: [{ role: 'user', content: 5 }] }, 'messages.0.content', 'invalid_type'],
    ['block without type', { ...base, messages: [{ role: 'user', content: [{ text: 'x' }] }] }, 'messages.0.content.0', 'invalid_value'],
    ['bad image', { ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file' } }] }] }, 'messages.0.content.0.source', 'invalid_value'],
    ['bad system', { ...base, system: 5, messages: [] }, 'system', 'invalid_type'],
  ])('refused: %s', (_name, body, param, code) => {
    const err = refusal(() => toChat(body));
    expect([err.status, err.param, err.code]).toEqual([400, param, code]);
  });

  test.each<[string, JsonObject, string | undefined]>([
    ['a server tool', { tools: [{ name: 'a', input_schema: {} }, { type: 'web_search_20250305', name: 'web_search' }], messages: [] }, 'tools.1'],
    ['a document', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'x' } }] }] }, 'messages.0.content.0'],
    ['an image in a tool result', { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: {} }] }] }] }, 'messages.0.content.0.content'],
    ['plain text, tools, images, thinking', { tools: [{ type: 'custom', name: 'a', input_schema: {} }], messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: '' }] }] }, undefined],
  ])('untranslatable: %s', (_name, body, param) => {
    const err = anthropicMessages.untranslatable!(MESSAGES, body) as GatewayError | undefined;
    expect(err?.param ?? undefined).toBe(param);
    if (err) expect([err.status, err.code]).toEqual([400, 'unsupported_parameter']);
  });
});

describe('chat completion → message', () => {
  const completion = (message: JsonObject, finish: string, usage: JsonObject = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 2 } }) => ({
    id: 'chatcmpl-abc',
    object: 'chat.completion',
    model: 'gpt-4o-2024',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    usage,
  });
  test.each<[string, JsonObject, JsonValue]>([
    [
      'text, end_turn, usage with cache reads',
      completion({ content: 'hello' }, 'stop'),
      {
        id: 'msg_abc',
        type: 'message',
        role: 'assistant',
        model: 'claude-x',
        content: [{ type: 'text', text: 'hello' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 2, output_tokens: 5 },
      },
    ],
    [
      'tool calls, tool_use; broken arguments become {}',
      completion({ content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'w', arguments: '{"a":1}' } }, { id: 'call_2', type: 'function', function: { name: 'v', arguments: '{oops' } }] }, 'tool_calls'),
      expect.objectContaining({
        content: [
          { type: 'tool_use', id: 'call_1', name: 'w', input: { a: 1 } },
          { type: 'tool_use', id: 'call_2', name: 'v', input: {} },
        ],
        stop_reason: 'tool_use',
      }),
    ],
    ['length → max_tokens', completion({ content: 'x' }, 'length'), expect.objectContaining({ stop_reason: 'max_tokens' })],
    ['content_filter → refusal', completion({ content: '' }, 'content_filter'), expect.objectContaining({ stop_reason: 'refusal', content: [] })],
  ])('%s', (_name, body, expected) => {
    expect(anthropicMessages.response(MESSAGES, body, ctx)).toEqual(expected);
  });

  test('count_tokens answers pass as they are', () => {
    expect(anthropicMessages.response(COUNT, { input_tokens: 5 }, ctx)).toEqual({ input_tokens: 5 });
  });
});

describe('errors', () => {
  test.each<[number, JsonValue, JsonValue]>([
    [400, { error: { message: 'bad', type: 'invalid_request_error', param: 'x', code: 'invalid_value' } }, { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }],
    [401, { error: { message: 'key', type: 'authentication_error', param: null, code: 'invalid_api_key' } }, { type: 'error', error: { type: 'authentication_error', message: 'key' } }],
    [403, { error: { message: 'no', type: 'permission_error', param: null, code: 'x' } }, { type: 'error', error: { type: 'permission_error', message: 'no' } }],
    [404, { error: { message: 'nf', type: 'invalid_request_error', param: null, code: 'model_not_found' } }, { type: 'error', error: { type: 'not_found_error', message: 'nf' } }],
    [413, { error: { message: 'big', type: 'invalid_request_error', param: null, code: null } }, { type: 'error', error: { type: 'request_too_large', message: 'big' } }],
    [429, { error: { message: 'slow', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }, { type: 'error', error: { type: 'rate_limit_error', message: 'slow' } }],
    [500, { error: { message: 'boom', type: 'server_error', param: null, code: null } }, { type: 'error', error: { type: 'api_error', message: 'boom' } }],
    [503, { error: { message: 'busy', type: 'server_error', param: null, code: 'overloaded' } }, { type: 'error', error: { type: 'overloaded_error', message: 'busy' } }],
    [529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
    [502, '<html>bad gateway</html>', { type: 'error', error: { type: 'api_error', message: '<html>bad gateway</html>' } }],
    [500, null, { type: 'error', error: { type: 'api_error', message: 'The gateway answered with HTTP 500.' } }],
  ])('%d %j', (status, body, expected) => {
    expect(anthropicMessages.error(status, body)).toEqual(expected);
  });
});

/** Runs OpenAI SSE text through a fresh MessagesStream; returns the events as [type, payload]. */
function translateStream(openAIText: string, opts: { finish?: boolean } = {}): Array<[string | undefined, any]> {
  const stream = anthropicMessages.stream(MESSAGES, ctx)!;
  const out: SseEvent[] = [];
  for (const ev of new SseParser().push(openAIText)) out.push(...stream.translate(ev));
  if (opts.finish !== false) out.push(...stream.finish());
  for (const ev of out) expect(ev.event).toBe(JSON.parse(ev.data).type);
  return out.map((e) => [e.event, JSON.parse(e.data)]);
}
const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta: JsonObject, finish: string | null = null) => data({ id: 'chatcmpl-s1', model: 'gpt', choices: [{ index: 0, delta, finish_reason: finish }] });
const usageChunk = data({ id: 'chatcmpl-s1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });

describe('chunks → Anthropic events', () => {
  test('text: message_start, ping, one text block, message_delta with usage, message_stop', () => {
    const events = translateStream(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hel' }) + chunk({ content: 'lo' }) + chunk({}, 'stop') + usageChunk + 'data: [DONE]\n\n');
    expect(events.map((e) => e[0])).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events[0][1].message).toMatchObject({ id: 'msg_s1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null });
    expect(events[2][1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(events[3][1].delta).toEqual({ type: 'text_delta', text: 'Hel' });
    expect(events[6][1]).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3 } });
  });

  test('text then two tool calls: blocks 0, 1, 2 with input_json_delta; stop_reason tool_use', () => {
    const events = translateStream(
      chunk({ content: 'Let me check.' }) +
        chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'w', arguments: '' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"P"}' } }] }) +
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'v', arguments: '{}' } }] }) +
        chunk({}, 'tool_calls') +
        'data: [DONE]\n\n',
    );
    const starts = events.filter((e) => e[0] === 'content_block_start').map((e) => [e[1].index, e[1].content_block]);
    expect(starts).toEqual([
      [0, { type: 'text', text: '' }],
      [1, { type: 'tool_use', id: 'call_a', name: 'w', input: {} }],
      [2, { type: 'tool_use', id: 'call_b', name: 'v', input: {} }],
    ]);
    const json = events.filter((e) => e[1].delta?.type === 'input_json_delta').map((e) => [e[1].index, e[1].delta.partial_json]);
    expect(json).toEqual([
      [1, '{"ci'],
      [1, 'ty":"P"}'],
      [2, '{}'],
    ]);
    expect(events.filter((e) => e[0] === 'content_block_stop').map((e) => e[1].index)).toEqual([0, 1, 2]);
    expect(events.at(-2)![1].delta.stop_reason).toBe('tool_use');
  });

  test('an OpenAI error event ends the stream with event: error and nothing after', () => {
    const events = translateStream(chunk({ content: 'x' }) + data({ error: { message: 'blocked', type: 'invalid_request_error', code: 'content_filtered' } }) + 'data: [DONE]\n\n');
    expect(events.at(-1)).toEqual(['error', { type: 'error', error: { type: 'invalid_request_error', message: 'blocked' } }]);
    expect(events.filter((e) => e[0] === 'message_stop')).toHaveLength(0);
  });

  test('a stream cut before its finish reason ends with an api_error', () => {
    const events = translateStream(chunk({ content: 'x' }));
    expect(events.at(-1)![1].error.type).toBe('api_error');
  });

  test('abort (for budgets and plugins): the error event, then nothing', () => {
    const stream = anthropicMessages.stream(MESSAGES, ctx)!;
    stream.translate(new SseParser().push(chunk({ content: 'x' }))[0]);
    const ended = stream.abort({ error: { message: 'Budget spent.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
    expect(ended.map((e) => [e.event, JSON.parse(e.data)])).toEqual([['error', { type: 'error', error: { type: 'rate_limit_error', message: 'Budget spent.' } }]]);
    expect(stream.finish()).toEqual([]);
    expect(stream.translate(new SseEvent(undefined, '[DONE]'))).toEqual([]);
  });

  test('observing a native stream: a replacement delta continues its open block; the end adds only message_stop', () => {
    const stream = anthropicMessages.stream(MESSAGES, ctx)!;
    const native = (type: string, payload: object) => new SseEvent(type, JSON.stringify({ type, ...payload }));
    stream.observe!(native('message_start', { message: {} }));
    stream.observe!(native('content_block_start', { index: 0, content_block: { type: 'thinking' } }));
    stream.observe!(native('content_block_stop', { index: 0 }));
    stream.observe!(native('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }));
    const replaced = stream.translate(new SseParser().push(chunk({ content: '[redacted]' }))[0]);
    expect(replaced.map((e) => JSON.parse(e.data))).toEqual([{ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: '[redacted]' } }]);
    stream.observe!(native('content_block_stop', { index: 1 }));
    stream.observe!(native('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }));
    const inserted = stream.translate(new SseParser().push(chunk({ content: 'tail' }))[0]);
    expect(JSON.parse(inserted[0].data)).toMatchObject({ type: 'content_block_start', index: 2 });
    const end = stream.translate(new SseEvent(undefined, '[DONE]'));
    expect(end.map((e) => e.event)).toEqual(['content_block_stop', 'message_stop']);
  });
});

test('a native stream rewritten before its message_delta: the end reports the native input and cache counts', () => {
  const stream = anthropicMessages.stream(MESSAGES, ctx)!;
  const start = { type: 'message_start', message: { usage: { input_tokens: 7, cache_read_input_tokens: 3, cache_creation_input_tokens: 2, output_tokens: 1 } } };
  stream.observe!(new SseEvent('message_start', JSON.stringify(start)));
  const events = [chunk({ content: 'x' }), chunk({}, 'stop'), data({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 } }), 'data: [DONE]\n\n']
    .flatMap((t) => new SseParser().push(t))
    .flatMap((ev) => stream.translate(ev));
  const delta = events.map((e) => JSON.parse(e.data)).find((e) => e.type === 'message_delta');
  expect(delta.usage).toEqual({ input_tokens: 7, cache_creation_input_tokens: 2, cache_read_input_tokens: 3, output_tokens: 4 });
});

describe('count_tokens estimate', () => {
  test.each<[string, JsonObject, number]>([
    ['one short message', { messages: [{ role: 'user', content: 'abcdefgh' }] }, 2 + 4],
    ['system and blocks', { system: 'abcd', messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }] }] }, 2 + 4],
    ['an image costs a fixed amount', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x'.repeat(10000) } }] }] }, 1600 + 4],
    ['tools count as their JSON', { tools: [{ name: 'abcd' }], messages: [] }, Math.ceil(JSON.stringify([{ name: 'abcd' }]).length / 4)],
  ])('%s', (_name, body, expected) => {
    expect(estimateInputTokens(body)).toBe(expected);
  });
});
